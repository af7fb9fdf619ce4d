"""Named configurations: a YAML file of overrides merged into params.yaml.

    dcai-config configs/dcai2021.yaml            # params.yaml now points at the competition's data
    dcai-config configs/dcai2021.yaml --print    # show the merged params, write nothing

Groups and keys of the overrides must exist in params.yaml (a typo is an error, not a new
knob nobody reads); a key's value replaces the old one whole. params.yaml's
comments and order are kept (ruamel.yaml, which DVC itself uses), so the result is a
reviewable diff.
"""
import argparse
import io
import sys
from pathlib import Path

from ruamel.yaml import YAML

from .atomic import atomic_write_text


class ConfigError(ValueError):
    pass


def merge_overrides(params, overrides):
    """Merge `overrides` into `params` in place: group by group, key by key; a key's value
    (a list, a mapping such as train_score.test_sets, or a scalar) replaces the old one.
    Unknown groups or keys raise ConfigError."""
    for group, values in overrides.items():
        if group not in params:
            raise ConfigError(f"{group}: no such group in params.yaml")
        if not isinstance(values, dict):
            raise ConfigError(f"{group}: expected keys of the group, got {values!r}")
        for key, value in values.items():
            if key not in params[group]:
                raise ConfigError(f"{group}.{key}: no such key in params.yaml")
            params[group][key] = value
    return params


def apply_config(config: Path, params_path: Path = Path("params.yaml"), write: bool = True) -> str:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)  # params.yaml's own layout
    yaml.representer.add_representer(type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    params = yaml.load(params_path.read_text(encoding="utf-8"))
    try:
        overrides = YAML().load(config.read_text(encoding="utf-8")) or {}  # keeps [a, b] lists in flow style
    except Exception as err:  # ruamel's parser errors carry the line and column
        raise ConfigError(f"{config}: not valid YAML: {err}") from err
    if not isinstance(overrides, dict):
        raise ConfigError(f"{config}: expected groups of params (a mapping), got {type(overrides).__name__}")
    merge_overrides(params, overrides)
    buf = io.StringIO()
    yaml.dump(params, buf)
    if write:
        atomic_write_text(params_path, buf.getvalue())
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dcai-config", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path, help="a YAML file of overrides, e.g. configs/dcai2021.yaml")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--print", action="store_true", help="print the merged params instead of writing them")
    args = parser.parse_args(argv)
    for path in (args.config, args.params):
        if not path.is_file():
            print(f"dcai-config: {path}: file not found", file=sys.stderr)
            return 2
    try:
        merged = apply_config(args.config, args.params, write=not args.print)
    except ConfigError as err:
        print(f"dcai-config: {err}", file=sys.stderr)
        return 2
    if args.print:
        print(merged, end="")
    else:
        print(f"dcai-config: {args.params} updated from {args.config}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
