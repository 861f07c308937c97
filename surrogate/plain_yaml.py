"""Every YAML file the product reads (recipes, solve configs, part rules, training
configs), read one way: yaml's safe loader without anchors and aliases (a few lines of
aliases expand to gigabytes), from a regular file of bounded size."""

from __future__ import annotations

from pathlib import Path

import yaml

from solvers.errors import InputError

MAX_BYTES = 1 << 20  # a config is a page of text, not a data file


class _NoAliases(yaml.SafeLoader):
    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("it uses an alias (*name), which is not accepted")
        return super().compose_node(parent, index)


def read_yaml(path: str | Path, what: str = "YAML"):
    """The plain data of a YAML file; InputError naming the file and the reason."""
    path = Path(path)
    try:
        if not path.is_file():
            raise OSError(f"not a regular file{'' if path.exists() else ' (missing)'}")
        if path.stat().st_size > MAX_BYTES:
            raise OSError(f"larger than {MAX_BYTES >> 10} KiB")
        return _load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        reason = getattr(error, "strerror", None) or str(error).splitlines()[0]
        raise InputError(f"{path}: cannot be read as {what} ({reason}).") from None


def parse_yaml(text: str, what: str):
    """The plain data of a YAML snippet (a --set value); InputError otherwise."""
    try:
        return _load(text)
    except yaml.YAMLError as error:
        raise InputError(f"{what}: {str(error).splitlines()[0]}.") from None


def _load(text: str):
    loader = _NoAliases(text)  # a SafeLoader: plain data only, never objects
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
