"""Code Interpreter: sandboxed, stateful Python (a Jupyter kernel per thread under bubblewrap)."""
