from tests.classes.fixtures import class_a, class_b, client_of, math, people, sam_thread  # noqa: F401
