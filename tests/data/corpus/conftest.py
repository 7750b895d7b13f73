"""The files under here are a corpus to extract a KG from, not tests of graphmer-dist: never collect them."""

collect_ignore_glob = ["*/*.py"]
