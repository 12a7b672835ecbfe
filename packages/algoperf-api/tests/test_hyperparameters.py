import pickle

import pytest

from algoperf.api import Hyperparameters


def test_attribute_and_mapping_access():
    hp = Hyperparameters({"learning_rate": 0.1}, beta2=0.99)
    assert hp.learning_rate == 0.1
    assert hp["beta2"] == 0.99
    assert dict(hp) == {"learning_rate": 0.1, "beta2": 0.99}
    assert hp._asdict() == hp.to_dict() == {"learning_rate": 0.1, "beta2": 0.99}
    assert hasattr(hp, "learning_rate")
    assert not hasattr(hp, "label_smoothing")
    assert hp.get("label_smoothing", 0.0) == 0.0
    assert repr(hp) == "Hyperparameters(learning_rate=0.1, beta2=0.99)"


def test_missing_name_lists_what_is_set():
    hp = Hyperparameters(learning_rate=0.1)
    with pytest.raises(AttributeError, match=r"'warmup_factor' is not set \(set: learning_rate\)"):
        _ = hp.warmup_factor


def test_immutable_and_picklable():
    hp = Hyperparameters(learning_rate=0.1)
    with pytest.raises(AttributeError, match="immutable"):
        hp.learning_rate = 0.2
    assert pickle.loads(pickle.dumps(hp)) == hp


def test_names_must_be_identifiers():
    with pytest.raises(ValueError, match="not a Python identifier"):
        Hyperparameters({"learning-rate": 0.1})
