"""A case's structured metadata: the document staff read and write, its coded vocabularies,
the contexts that bind its sealed parts to their rows, and consent per person and scope."""
