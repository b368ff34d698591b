"""Pure layer functions with ``torch.nn.functional``'s names, arguments and defaults
(randomness takes an explicit key; state is returned, not mutated). Use as
``import nnlib.functional as F``."""
from nnlib.functional.activations import *
from nnlib.functional.attention import *
from nnlib.functional.conv import *
from nnlib.functional.distances import *
from nnlib.functional.dropout import *
from nnlib.functional.linear import *
from nnlib.functional.losses import *
from nnlib.functional.normalization import *
from nnlib.functional.padding import *
from nnlib.functional.pooling import *
from nnlib.functional.recurrent import *
from nnlib.functional.softmax import *
from nnlib.functional.upsampling import *
