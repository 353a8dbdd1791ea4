import os

# Tests never reach the network: the Hub code runs against local folders and caches.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# no persistent XLA cache across test processes (the tests of that cache set it themselves)
os.environ["TFHF_XLA_CACHE"] = "0"
# the bfloat16 tests test bfloat16 on any CPU (tfhf would compute in float32 on one without
# bfloat16 units; tests/models/test_cpu_bf16_choice.py checks that choice)
os.environ["TFHF_CPU_BF16"] = "1"

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _float32_policy():
    """Every test starts and ends under the float32 Keras policy."""
    from tfhf._keras import keras

    keras.mixed_precision.set_global_policy("float32")
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.fixture
def rng():
    return np.random.RandomState(0)
