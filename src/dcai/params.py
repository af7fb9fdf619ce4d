"""Reading params.yaml: one group per stage."""
from pathlib import Path

import yaml


class ParamsError(ValueError):
    pass


def load_params(group: str, path: str | Path = "params.yaml") -> dict:
    with open(path, encoding="utf-8") as fh:
        params = yaml.safe_load(fh) or {}
    if group not in params:
        raise ParamsError(f"{path}: no '{group}' group")
    return params[group]
