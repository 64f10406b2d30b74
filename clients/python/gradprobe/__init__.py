"""gradprobe: see how gradients flow through a network before you train it for a week.

This package holds the torch-free contract shared by the server, the worker and the
client: the spec models (what a user posts), the result model (what comes back), the
family-to-graph expansion and the shape inference that validates a spec without torch.
"""

from gradprobe.errors import SpecError
from gradprobe.result import Result
from gradprobe.spec import JobSpec

__all__ = ["JobSpec", "Result", "SpecError"]
__version__ = "0.1.0"
