"""Corpus recipes: one `download_*` and one `prepare_*` per corpus (lhotse style), the embedded
corpus builders, and the subset / clip builders."""
