"""The application built on the engine: the `tflc` command line (`cli`, entry point `__main__.run`),
data sets (`data`), checkpoints (`checkpoint`, atomic file writes in `files`) and the training
loop (`training`). The engine modules never import it; it may import `models`, `viz` and
`benchmarks`, and `models` and `viz` use its leaf modules (`checkpoint`, `files`, `training`).

Imports nothing itself, so that `__main__.run` can catch a Ctrl-C while the command line loads.
"""
