"""Retrieval: vector stores, ingest of uploaded files, hybrid search and the file_search tool."""
