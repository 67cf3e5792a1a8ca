"""Test-suite settings for tiny CPU runs.

- One torch thread: the tests use tiny tensors, where thread start-up dominates, and on a loaded machine two OpenMP
  threads wait on each other (measured 10-20x slower than one).
- oneDNN off: it spends about 1 s warming up for every new convolution shape, more than these runs take without it.
"""

import torch

torch.set_num_threads(1)
torch.backends.mkldnn.enabled = False
