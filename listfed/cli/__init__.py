"""The command line: a typer skin that parses, calls `listfed.ops`, and renders."""
