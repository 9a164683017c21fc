"""Shell completion for bash, zsh and fish: the scripts (`nncli --show-completion SHELL`,
`--install-completion SHELL`) and the completers of arguments: config files for CONFIG, run directories
for RUN_DIR, and for KEY=VALUE overrides the dotted keys of the config and, after `KEY=`, the names the
registries know (activations, losses, optimizers, initializers, datasets, schedules).

Completion runs `nncli` with `_NNCLI_COMPLETE=complete_SHELL` (Typer's mechanism; Typer's zsh and fish
scripts). Bash's readline splits words at `=` and `:`, so nncli's own bash script sends the command line
up to the cursor and the word-break characters, and the answers are cut to the text readline replaces.
"""

from __future__ import annotations

import enum
import os
import re
from pathlib import Path
from typing import Callable, Iterable

import typer
from pydantic import BaseModel
from typer._completion_classes import BashComplete, add_completion_class
from typer.completion import completion_init, get_completion_script
from typer.completion import install as typer_install

from ..config import Config, LayerConfig, Spec
from ..data import DATASETS
from ..metrics import MONITORS
from ..nn.activations import ACTIVATIONS
from ..nn.initializers import INITIALIZERS
from ..nn.losses import LOSSES
from ..nn.optimizers import OPTIMIZERS
from ..nn.schedules import SCHEDULES
from ..readers import read_yaml_mapping
from ..runs import CONFIG

PROG, COMPLETE_VAR = "nncli", "_NNCLI_COMPLETE"
MAX_ITEMS = 200  # completions listed at most (a directory with thousands of runs)

BASH_SCRIPT = r"""
_nncli_completion() {
    local IFS=$'\n'
    COMPREPLY=( $( env COMP_WORDS="${COMP_WORDS[*]}" COMP_CWORD=$COMP_CWORD \
                   _NNCLI_COMP_LINE="${COMP_LINE:0:COMP_POINT}" _NNCLI_COMP_BREAKS="$COMP_WORDBREAKS" \
                   _NNCLI_COMPLETE=complete_bash $1 ) )
    # KEY= and directories are not finished words: no space after them
    if [[ ${#COMPREPLY[@]} -eq 1 && ( ${COMPREPLY[0]} == *= || ${COMPREPLY[0]} == */ ) ]]; then
        compopt -o nospace
    fi
    return 0
}

complete -o default -F _nncli_completion nncli
"""


class Shell(str, enum.Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


class WholeWordBash(BashComplete):
    """Typer's bash completion, given the whole word under the cursor (readline breaks `loss=mse` into
    `loss=` and `mse` at the characters of COMP_WORDBREAKS), answering with the part of each completion
    after the word's last break character: the text readline replaces."""

    def get_completion_args(self) -> tuple[list[str], str]:
        line = os.environ.get("_NNCLI_COMP_LINE")
        if line is None:  # an older script: Typer's own way
            return super().get_completion_args()
        words = _split(line)
        if line and not line[-1].isspace():
            return words[1:-1], words[-1] if len(words) > 1 else ""
        return words[1:], ""

    def complete(self) -> str:
        args, incomplete = self.get_completion_args()
        breaks = set(os.environ.get("_NNCLI_COMP_BREAKS", "=:")) - set(" \t\n\"'")
        cut = max((i + 1 for i, ch in enumerate(incomplete) if ch in breaks), default=0)
        values = [item.value for item in self.get_completions(args, incomplete)]
        return "\n".join(v[cut:] for v in values if v.startswith(incomplete[:cut]))


def _split(line: str) -> list[str]:
    """Shell words of a partial command line (quotes removed; an unclosed quote ends the last word)."""
    words, word, quote, started = [], "", "", False
    for ch in line:
        if quote:
            if ch == quote:
                quote = ""
            else:
                word += ch
        elif ch in "'\"":
            quote, started = ch, True
        elif ch.isspace():
            if started:
                words.append(word)
            word, started = "", False
        else:
            word, started = word + ch, True
    if started or line.endswith(("'", '"')):
        words.append(word)
    return words


def setup() -> None:
    """Register the completion classes (Typer's for zsh and fish, WholeWordBash for bash)."""
    completion_init()
    add_completion_class(WholeWordBash, "bash")


def script(shell: str) -> str:
    """The completion script to source in `shell`."""
    if shell == Shell.bash.value:
        return BASH_SCRIPT.strip()
    return get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell)


def show_completion(value: Shell | None) -> None:
    """`--show-completion SHELL`: print the script and exit."""
    if value is not None:
        typer.echo(script(value.value))
        raise typer.Exit(0)


def install_completion(value: Shell | None) -> None:
    """`--install-completion SHELL`: install the script where the shell finds it, and exit."""
    if value is None:
        return
    shell, path = typer_install(shell=value.value, prog_name=PROG, complete_var=COMPLETE_VAR)
    if shell == Shell.bash.value:  # Typer wrote its own bash script; ours understands KEY=VALUE
        path.write_text(script(shell) + "\n")
    typer.echo(f"{shell} completion installed in {path}; it takes effect in a new shell")
    raise typer.Exit(0)


# -- completers of arguments -------------------------------------------------------------------------
def _paths(incomplete: str, keep: Callable[[Path], bool]) -> list[str]:
    """Paths starting with `incomplete` that `keep` accepts, looking one directory level deeper too
    (`c` finds configs/xor.yaml); hidden entries only when asked for with a leading dot."""
    base, slash, prefix = incomplete.rpartition("/")
    root = Path(base + slash) if slash else Path(".")
    out: list[str] = []
    for entry in _listdir(root):
        if not entry.name.startswith(prefix) or (entry.name.startswith(".") and not prefix.startswith(".")):
            continue
        shown = f"{base}{slash}{entry.name}"
        if keep(entry):
            out.append(shown)
        elif entry.is_dir():
            out += [f"{shown}/{child.name}" for child in _listdir(entry)
                    if not child.name.startswith(".") and keep(child)]
        if len(out) >= MAX_ITEMS:
            break
    return sorted(out)[:MAX_ITEMS]


def _listdir(path: Path) -> list[Path]:
    try:
        return sorted(path.iterdir())[: 10 * MAX_ITEMS]
    except OSError:
        return []


def _is_config(path: Path) -> bool:
    return path.suffix in (".yaml", ".yml") and path.is_file()


def _is_run(path: Path) -> bool:
    return (path / CONFIG).is_file()


def config_files(incomplete: str) -> list[str]:
    """CONFIG: YAML files."""
    return _paths(incomplete, _is_config)


def run_dirs(incomplete: str) -> list[str]:
    """RUN_DIR: directories holding a config.yaml (runs/xor-20260101-120000)."""
    return _paths(incomplete, _is_run)


def dataset_names(incomplete: str) -> list[str]:
    """A dataset name (`nncli data info NAME`)."""
    return [name for name in DATASETS.names() if name.startswith(incomplete)]


def config_or_run(incomplete: str) -> list[str]:
    """CONFIG|RUN_DIR: YAML files and run directories."""
    return config_files(incomplete) + run_dirs(incomplete)


def config_argument(help: str = "YAML config, e.g. configs/xor.yaml", required: bool = False, runs: bool = False):
    """The CONFIG argument of a command, with its completer (run directories too with `runs`)."""
    return typer.Argument(... if required else None, help=help, show_default=False,
                          metavar="CONFIG|RUN_DIR" if runs else "CONFIG",
                          autocompletion=config_or_run if runs else config_files)


def overrides_argument(help: str = "KEY=VALUE overrides with dotted paths and YAML values: optimizer.lr=0.5 "
                                   "model.layers.0.units=4"):
    """The KEY=VALUE ... arguments of a command, with their completer."""
    return typer.Argument(None, help=help, show_default=False, metavar="KEY=VALUE", autocompletion=key_values)


def key_values(ctx: typer.Context, incomplete: str) -> list[str]:
    """KEY=VALUE: the config's dotted keys (`optimizer.lr=`), and after `KEY=` the names its registry knows."""
    key, sep, value = incomplete.partition("=")
    if not sep:
        return [k + "=" for k in dotted_keys(_layer_count(ctx)) if k.startswith(key)]
    return [f"{key}={name}" for name in value_choices(key) if name.startswith(value)]


REGISTERED: list[tuple[str, Callable[[], Iterable[str]]]] = [
    (r"model\.layers\.\d+\.activation", ACTIVATIONS.names),
    (r"loss(\.name)?", LOSSES.names),
    (r"optimizer\.name", OPTIMIZERS.names),
    (r"optimizer\.schedule(\.name)?", SCHEDULES.names),
    (r"model\.init(\.name)?", INITIALIZERS.names),
    (r"data(\.name)?", DATASETS.names),
    (r"dtype", lambda: ["float32", "float64"]),
    (r"train\.early_stopping\.monitor", lambda: list(MONITORS)),
]


def value_choices(key: str) -> list[str]:
    """The registered names a dotted key takes (empty for free values such as optimizer.lr)."""
    for pattern, names in REGISTERED:
        if re.fullmatch(pattern, key):
            return list(names())
    return []


def dotted_keys(layers: int = 2) -> list[str]:
    """Every dotted key an override may set, layers 0..layers-1 included."""
    return _keys(Config, "", layers)


def _keys(model: type[BaseModel], prefix: str, layers: int) -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        key = prefix + name
        out.append(key)
        inner = [a for a in (getattr(field.annotation, "__args__", None) or (field.annotation,))
                 if isinstance(a, type) and issubclass(a, BaseModel)]
        if field.annotation == list[LayerConfig]:
            for i in range(layers):
                out += _keys(LayerConfig, f"{key}.{i}.", layers)
        elif inner and inner[0] is Spec:
            out.append(f"{key}.name")
        elif inner:
            out += _keys(inner[0], key + ".", layers)
    return out


def _layer_count(ctx: typer.Context) -> int:
    """How many layers the config given before the cursor has (2 when unknown)."""
    path = ctx.params.get("config") if ctx is not None else None
    try:
        layers = read_yaml_mapping(path).get("model", {}).get("layers") if path else None
    except Exception:  # a completion never fails, whatever the file holds
        layers = None
    return len(layers) if isinstance(layers, list) and layers else 2

