"""The command line (`graphmer-launch`) and the Ray driver. Depends on `platforms` and `graphmer_dist`."""
