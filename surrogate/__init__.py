"""Graph U-Net surrogates for physics on unstructured meshes, and the `surrogate` CLI."""
