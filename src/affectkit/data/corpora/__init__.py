"""One module per corpus; each registers itself in :data:`affectkit.data.CORPORA`."""
