"""Running models over the archive: ``process`` (new media), ``reprocess`` (a scope again),
``prune`` (drop a retired version's sets), all as persistent jobs of kind ``predict``.

Predictions are only ever added (one set per media item per model version); nothing here
reads from or writes to the human label tables except to compare against them.
"""
