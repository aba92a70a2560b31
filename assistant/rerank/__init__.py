"""Second stage: rerankers behind one interface, found by name through a registry with lazy imports."""
