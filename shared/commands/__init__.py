"""The command layer: the `videolib` command, `videolib run`'s process tree, doctor, thumbnails."""
