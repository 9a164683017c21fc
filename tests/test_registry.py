"""Registry: register, get, names, aliases, unknown names with the closest match."""

import pytest

from nncli.errors import ConfigError
from nncli.nn.activations import ACTIVATIONS
from nncli.nn.initializers import INITIALIZERS
from nncli.nn.losses import LOSSES
from nncli.nn.optimizers import OPTIMIZERS
from nncli.nn.schedules import SCHEDULES
from nncli.registry import Registry


def test_register_get_names_and_aliases():
    reg: Registry = Registry("widget")

    @reg.register("spanner", "wrench")
    class Spanner:
        pass

    assert reg.get("spanner") is Spanner
    assert reg.get("wrench") is Spanner
    assert Spanner.name == "spanner"
    assert reg.names() == ["spanner", "wrench"]
    assert "wrench" in reg and "hammer" not in reg
    assert list(reg) == ["spanner", "wrench"]
    assert reg.items() == [("spanner", Spanner), ("wrench", Spanner)]
    reg.unregister("wrench")
    assert reg.names() == ["spanner"]


def test_duplicate_registration_is_refused():
    reg: Registry = Registry("widget")
    reg.register("a")(type("A", (), {}))
    with pytest.raises(ValueError, match="widget 'a' is already registered"):
        reg.register("a")(type("B", (), {}))


def test_unknown_name_lists_choices_and_closest_match():
    with pytest.raises(ConfigError) as e:
        ACTIVATIONS.get("sigmiod", where="model.layers.1.activation")
    msg = str(e.value)
    assert msg.startswith("model.layers.1.activation: unknown activation 'sigmiod'")
    assert "did you mean 'sigmoid'?" in msg
    assert "choices: identity, leaky_relu, linear, logistic, relu, sigmoid, softmax, tanh" in msg
    assert e.value.exit_code == 2


def test_unknown_name_without_close_match_has_no_guess():
    msg = Registry("widget").unknown_message("zzz")
    assert msg == "unknown widget 'zzz' (choices: )"
    with pytest.raises(ConfigError, match="did you mean"):
        LOSSES.get("binary_crossentropi")


def test_unhashable_name_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown optimizer"):
        OPTIMIZERS.get(["sgd"])  # type: ignore[arg-type]


def test_built_in_registries_hold_the_documented_names():
    assert {"relu", "leaky_relu", "sigmoid", "tanh", "linear", "softmax"} <= set(ACTIVATIONS.names())
    assert {"binary_crossentropy", "categorical_crossentropy", "mse"} <= set(LOSSES.names())
    assert {"glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "lecun_normal", "normal",
            "uniform", "zeros"} <= set(INITIALIZERS.names())
    assert {"sgd", "adam"} <= set(OPTIMIZERS.names())
    assert {"constant", "step", "exponential", "cosine"} <= set(SCHEDULES.names())
