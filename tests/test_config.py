"""Config: loading configs/xor.yaml, KEY=VALUE overrides, the resolved dump, and one clear ConfigError
(exit code 2, naming the config path) for every kind of bad input."""

import numpy as np
import pytest
import yaml

from conftest import XOR
from nncli.readers import parse_yaml
from nncli import config as C
from nncli import runner
from nncli.errors import ConfigError

BASE = """\
seed: 0
dtype: float64
data: xor
model:
  layers:
    - {units: 2, activation: tanh}
    - {units: 1, activation: sigmoid}
  init: glorot_normal
loss: binary_crossentropy
optimizer: {name: sgd, lr: 0.25}
train:
  epochs: 5
  batch_size: full
"""


def error(*overrides: str) -> str:
    """The message of the ConfigError that validating BASE with `overrides` raises."""
    raw = parse_yaml(BASE, "c.yaml")
    with pytest.raises(ConfigError) as e:
        C.validate(C.apply_overrides(raw, list(overrides)))
    assert e.value.exit_code == 2
    return str(e.value)


def diff(a, b, path=""):
    """Dotted paths where two nested dicts/lists differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [p for k in sorted(set(a) | set(b)) for p in diff(a.get(k), b.get(k), f"{path}.{k}".lstrip("."))]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [p for i, (x, y) in enumerate(zip(a, b)) for p in diff(x, y, f"{path}.{i}")]
    return [] if a == b else [path]


# -- loading and overrides -------------------------------------------------------------------------
def test_load_xor_config():
    cfg = C.load(XOR)
    assert cfg.seed == 0 and cfg.dtype == "float64"
    assert cfg.data.name == "xor"
    assert [(l.units, l.activation) for l in cfg.model.layers] == [(2, "tanh"), (1, "sigmoid")]
    assert cfg.model.init.name == "glorot_normal" and cfg.model.input is None
    assert cfg.loss == "binary_crossentropy"
    assert cfg.optimizer.name == "sgd" and cfg.optimizer.lr == 0.25
    assert cfg.optimizer.options == {"momentum": 0.0, "nesterov": False}  # defaults filled in
    assert cfg.optimizer.schedule.name == "constant"
    assert cfg.weight_decay == 0.0
    assert cfg.train.batch_size == "full" and cfg.train.epochs > 0


@pytest.mark.parametrize("override,path,value", [
    ("optimizer.lr=0.5", "optimizer.lr", 0.5),
    ("model.layers.0.units=4", "model.layers.0.units", 4),
    ("model.init.name=he_normal", "model.init.name", "he_normal"),
    ("train.epochs=7", "train.epochs", 7),
    ("weight_decay=0.01", "weight_decay", 0.01),
    ("train.batch_size=2", "train.batch_size", 2),
    ("optimizer.momentum=0.9", "optimizer.momentum", 0.9),
])
def test_an_override_changes_exactly_what_it_names(override, path, value):
    base = C.load(XOR).model_dump(mode="json")
    changed = C.load(XOR, [override]).model_dump(mode="json")
    assert diff(base, changed) == [path]
    node = changed
    for part in path.split("."):
        node = node[int(part)] if part.isdigit() else node[part]
    assert node == value


def test_several_overrides_and_seed():
    cfg = C.load(XOR, ["optimizer.lr=0.5", "model.layers.0.units=4", "optimizer.name=adam"], seed=9)
    assert (cfg.optimizer.lr, cfg.model.layers[0].units, cfg.optimizer.name, cfg.seed) == (0.5, 4, "adam", 9)
    assert cfg.optimizer.options == {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}


def test_override_values_are_yaml():
    cfg = C.load(XOR, ["model.layers=[{units: 3, activation: relu}, {units: 1, activation: sigmoid}]",
                       "train.shuffle=false", "data={name: circles, n_samples: 20}"])
    assert [(l.units, l.activation) for l in cfg.model.layers] == [(3, "relu"), (1, "sigmoid")]
    assert cfg.train.shuffle is False
    assert cfg.data.name == "circles" and cfg.data.options == {"n_samples": 20, "noise": 0.1}


def test_option_override_on_a_string_shorthand(write_config):
    path = write_config(BASE.replace("init: glorot_normal", "init: normal"))
    cfg = C.load(path, ["model.init.std=0.5"])
    assert cfg.model.init.name == "normal" and cfg.model.init.options == {"std": 0.5}
    cfg = C.load(write_config(BASE.replace("data: xor", "data: moons"), "moons.yaml"), ["data.n_samples=30"])
    assert cfg.data.name == "moons" and cfg.data.options["n_samples"] == 30


def test_override_list_index_out_of_range():
    msg = error("model.layers.5.units=3")
    assert msg.startswith("model.layers.5: no item 5 in a list of 2 (indices 0..1)")
    assert "model.layers='[...]'" in msg


def test_override_without_equals_sign():
    assert "an override must look like KEY=VALUE (for example optimizer.lr=0.5), got 'optimizer.lr'" in error(
        "optimizer.lr")


def test_override_with_bad_yaml_value():
    assert error("optimizer.lr=[1").startswith("override optimizer.lr:1:3: YAML syntax error")


def test_override_into_a_value_is_refused():
    assert error("seed.x=1") == "seed: is a value (0), not a section with keys"


# -- the resolved dump -----------------------------------------------------------------------------
def test_dump_loads_back_equal(write_config):
    cfg = C.load(XOR, ["optimizer.lr=0.5", "model.init.name=normal", "model.init.std=0.2",
                       "optimizer.schedule={name: step, step_size: 3}"])
    text = cfg.dump()
    again = C.load(write_config(text, "resolved.yaml"))
    assert again == cfg
    assert again.dump() == text
    dumped = yaml.safe_load(text)
    assert dumped["model"]["init"] == {"name": "normal", "std": 0.2}
    assert dumped["optimizer"]["schedule"] == {"name": "step", "warmup": 0, "step_size": 3, "gamma": 0.1}


def test_dump_after_prepare_records_the_input_size(write_config):
    cfg = C.load(XOR)
    runner.prepare(cfg)
    again = C.load(write_config(cfg.dump(), "resolved.yaml"))
    assert again.model.input == 2 and again == cfg


def test_dumped_config_is_accepted_unchanged_by_nncli_train(run_cli, write_config, tmp_path):
    cfg = C.load(XOR, ["train.epochs=3", "optimizer.lr=0.5"])
    resolved = write_config(cfg.dump(), "resolved.yaml")
    result = run_cli("train", resolved, "--out", tmp_path / "run", "--quiet")
    assert result.exit_code == 0, result.stderr
    written = (tmp_path / "run" / "config.yaml").read_text()
    # training fills in what the data decides: the input size and the number of snapshots
    assert C.load(tmp_path / "run" / "config.yaml") == C.load(resolved, ["model.input=2", "train.snapshots=3"])
    assert yaml.safe_load(written)["optimizer"]["lr"] == 0.5


# -- bad files -------------------------------------------------------------------------------------
def test_missing_config(tmp_path):
    with pytest.raises(ConfigError) as e:
        C.load(tmp_path / "nope.yaml")
    assert str(e.value) == f"{tmp_path / 'nope.yaml'}: config file not found; give the path of a YAML " \
                           "config such as configs/xor.yaml"


def test_unreadable_config(tmp_path, write_config):
    with pytest.raises(ConfigError, match="is a directory, not a YAML config file"):
        C.load(tmp_path)
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"seed: \xff\xfe\n")
    with pytest.raises(ConfigError, match=r"latin1.yaml: is not UTF-8 text \(byte 0xff at offset 6\)"):
        C.load(bad)


@pytest.mark.parametrize("text,line_col,problem", [
    ("seed: 0\nmodel:\n  layers: [{units: 2}\n", "4:1", "expected ',' or ']'"),
    ("seed: 0\na: b: c\n", "2:5", "mapping values are not allowed here"),
    ("seed: 0\n\tdata: xor\n", "2:1", "found character '\\t' that cannot start any token"),
])
def test_yaml_syntax_error_names_file_line_and_column(write_config, text, line_col, problem):
    path = write_config(text)
    with pytest.raises(ConfigError) as e:
        C.load(path)
    assert str(e.value).startswith(f"{path}:{line_col}: YAML syntax error: {problem}")


def test_duplicate_keys_are_an_error(write_config):
    path = write_config(BASE + "seed: 3\n")
    with pytest.raises(ConfigError) as e:
        C.load(path)
    assert str(e.value) == f"{path}:14:1: YAML syntax error: duplicate key 'seed' (first at line 1)"
    nested = write_config(BASE.replace("epochs: 5", "epochs: 5\n  epochs: 6"))
    with pytest.raises(ConfigError, match=r":13:3: YAML syntax error: duplicate key 'epochs' \(first at line 12\)"):
        C.load(nested)


def test_empty_and_non_mapping_configs(write_config):
    with pytest.raises(ConfigError, match="the config is empty"):
        C.load(write_config("# nothing\n"))
    with pytest.raises(ConfigError, match="a config must be a YAML mapping of keys to values, not a list"):
        C.load(write_config("- 1\n- 2\n"))


def test_python_objects_are_not_loaded(write_config):
    with pytest.raises(ConfigError, match="YAML syntax error"):
        C.load(write_config("seed: !!python/object/apply:os.system ['true']\n"))


# -- bad values ------------------------------------------------------------------------------------
@pytest.mark.parametrize("override,expected", [
    ("model.layres=3", "model.layres: unknown key; did you mean 'layers'? (valid keys here: input, layers, init, "
                       "init_from)"),
    ("trian.epochs=3", "trian: unknown key; did you mean 'train'?"),
    ("train.epocs=3", "train.epocs: unknown key; did you mean 'epochs'?"),
    ("model.layers.0.unit=3", "model.layers.0.unit: unknown key; did you mean 'units'? (valid keys here: units, "
                              "activation)"),
    ("optimizer.momentun=0.5", "optimizer.momentun: unknown key; did you mean 'momentum'?"),
    ("model.init.std=0.1", "model.init.std: unknown key (initializer 'glorot_normal' takes no options)"),
])
def test_unknown_keys_name_the_dotted_path_and_closest_key(override, expected):
    assert expected in error(override)


@pytest.mark.parametrize("override,expected", [
    ("optimizer.lr=abc", "optimizer.lr: input should be a valid number"),
    ("seed=abc", "seed: input should be a valid integer"),
    ("train.shuffle=maybe", "train.shuffle: input should be a valid boolean"),
    ("dtype=float16", "dtype: input should be 'float32' or 'float64' (got 'float16')"),
    ("model.layers.0=5", "model.layers.0: input should be a valid dictionary"),
    ("train.batch_size=foo", "train.batch_size: input should be 'full' (got 'foo')"),
    ("model.layers=[]", "model.layers: list should have at least 1 item"),
    ("train.epochs=true", "train.epochs: input should be a valid integer: a whole number such as 1000 (true, "
                          "1e3 and 1000.0 are not) (got True)"),  # not silently 1
    ("model.layers.0.units=2.5", "model.layers.0.units: input should be a valid integer: a whole number"),
    ("seed=false", "seed: input should be a valid integer: a whole number"),
])
def test_wrong_types(override, expected):
    assert expected in error(override)


@pytest.mark.parametrize("override,expected", [
    ("optimizer.lr=0", "optimizer.lr: input should be greater than 0 (got 0)"),
    ("optimizer.lr=-0.1", "optimizer.lr: input should be greater than 0 (got -0.1)"),
    ("train.epochs=0", "train.epochs: input should be greater than 0 (got 0)"),
    ("model.layers.0.units=0", "model.layers.0.units: input should be greater than 0 (got 0)"),
    ("model.layers.1.units=-1", "model.layers.1.units: input should be greater than 0 (got -1)"),
    ("train.batch_size=0", "train.batch_size: must be a positive integer or 'full' (got 0)"),
    ("weight_decay=-1", "weight_decay: input should be greater than or equal to 0 (got -1)"),
    ("optimizer.lr=.inf", "optimizer.lr: input should be a finite number (got inf)"),
    ("optimizer.lr=.nan", "optimizer.lr: input should be a finite number (got nan)"),
    ("weight_decay=.inf", "weight_decay: input should be a finite number (got inf)"),
    ("train.input_noise=.nan", "train.input_noise: input should be a finite number (got nan)"),
])
def test_non_positive_numbers(override, expected):
    assert expected in error(override)


@pytest.mark.parametrize("override,expected", [
    ("model.layers.0.activation=tanhh", "model.layers.0.activation: unknown activation 'tanhh'; did you mean 'tanh'?"),
    ("loss=binary_crossentropi", "loss: unknown loss 'binary_crossentropi'; did you mean 'binary_crossentropy'?"),
    ("optimizer.name=adamm", "optimizer.name: unknown optimizer 'adamm'; did you mean 'adam'? (choices: adam, sgd)"),
    ("model.init=glorot_norml", "model.init.name: unknown initializer 'glorot_norml'; did you mean 'glorot_normal'?"),
    ("data=xorr", "data.name: unknown dataset 'xorr'; did you mean 'xor'?"),
    ("optimizer.schedule=cosin", "optimizer.schedule.name: unknown schedule 'cosin'; did you mean 'cosine'?"),
])
def test_unknown_names_with_did_you_mean(override, expected):
    assert error(override).startswith(expected)


@pytest.mark.parametrize("overrides,expected", [
    (["model.layers.1.activation=softmax", "model.layers.1.units=2"],
     "model.layers.1: binary_crossentropy needs sigmoid outputs"),
    (["loss=categorical_crossentropy", "model.layers.1.activation=softmax"],
     "model.layers.1: categorical_crossentropy needs at least 2 softmax output units"),
    (["loss=categorical_crossentropy"], "model.layers.1: categorical_crossentropy needs a softmax output layer"),
])
def test_loss_must_fit_the_output_layer(overrides, expected):
    assert error(*overrides).startswith(expected)


def test_input_size_must_match_the_data():
    cfg = C.load(XOR, ["model.input=3"])
    with pytest.raises(ConfigError) as e:
        runner.prepare(cfg)
    assert str(e.value) == ("model.input: is 3, but the xor data has 2 features per sample; set model.input: 2 "
                            "or leave it out to infer it")


def test_output_units_must_match_the_classes():
    cfg = C.load(XOR, ["model.layers.1.units=3"])
    with pytest.raises(ConfigError, match="the output layer has 3 units but xor has 2 classes; use units: 2"):
        runner.prepare(cfg)


def test_init_from_with_wrong_shapes(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, W1=np.zeros((2, 3)), b1=np.zeros(3), W2=np.zeros((3, 1)), b2=np.zeros(1))
    cfg = C.load(XOR, [f"model.init_from={path}"])
    with pytest.raises(ConfigError) as e:
        runner.prepare(cfg)
    assert str(e.value) == (f"model.init_from: W1 in {path} has shape (2, 3), but this network's W1 has shape "
                            f"(2, 2); the layer sizes must match")


def test_init_from_with_missing_arrays_or_file(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, W1=np.zeros((2, 2)), b1=np.zeros(2))
    with pytest.raises(ConfigError, match=r"model.init_from: .* has arrays \['W1', 'b1'\] but this network "
                                          r"needs \['W1', 'b1', 'W2', 'b2'\]"):
        runner.prepare(C.load(XOR, [f"model.init_from={path}"]))
    with pytest.raises(ConfigError, match="model.init_from: .*nope.npz does not exist"):
        runner.prepare(C.load(XOR, [f"model.init_from={tmp_path / 'nope.npz'}"]))


def test_init_from_copies_the_weights(tmp_path):
    arrays = {"W1": np.array([[1.0, 2.0], [3.0, 4.0]]), "b1": np.array([0.5, -0.5]),
              "W2": np.array([[1.0], [-1.0]]), "b2": np.array([0.25])}
    np.savez(tmp_path / "w.npz", **arrays)
    prepared = runner.prepare(C.load(XOR, [f"model.init_from={tmp_path / 'w.npz'}"]))
    for name, a in prepared.net.state().items():
        np.testing.assert_array_equal(a, arrays[name])


def test_aliases_become_the_registered_names():
    """`logistic` and `bce` are aliases: the checks and the resolved config use sigmoid and
    binary_crossentropy (so BCE accepts a `logistic` output layer)."""
    cfg = C.load(XOR, ["model.layers.1.activation=logistic", "loss=bce", "model.layers.0.activation=identity"])
    assert [layer.activation for layer in cfg.model.layers] == ["linear", "sigmoid"]
    assert cfg.loss == "binary_crossentropy"
    assert "logistic" not in cfg.dump() and "bce" not in cfg.dump()
