"""The network: a VGG-style CNN sized for a Pi core (≈ 0.84 M parameters, ≈ 24 M MACs).

Five blocks of 3×3 conv + BatchNorm + ReLU (widths 16-32-64-128-192; one conv in the 48×48
and 24×24 blocks, two in the others) with 2×2 max-pooling between them, global average
pooling, dropout and one linear layer. The cost per face in the int8 runtime is close to
linear in multiply-adds (≈ 0.24 ms + 0.026 ms per M MACs on an x86-64 core), and most of
them sit where a 3×3 conv is widest over the most pixels. So the early, high-resolution
blocks are narrow (faces 3-5 m away have little fine detail to find there) and the depth and
width go to the 6×6 and 3×3 blocks, where they are cheap. The previous 4-block network
(widths 24-48-96-192, 54 M MACs) took 1.7 ms per face against 0.9 ms for this one, which
scores the same at 48 and 24 px and a point higher at 16 px (docs/emotion-model.md).
Every layer maps to a TFLite builtin (CONV_2D with fused ReLU after folding BatchNorm,
MAX_POOL_2D, AVERAGE_POOL_2D, FULLY_CONNECTED, SOFTMAX), so ``export_tflite.py`` can write
it directly. Input: [N, 1, 48, 48], the grayscale face scaled to [-1, 1] (``x/255*2-1``).
"""

from __future__ import annotations

import torch
from torch import nn

WIDTHS = (16, 32, 64, 128, 192)
CONVS = (1, 1, 2, 2, 2)
INPUT_SIZE = 48
NUM_CLASSES = 7


class EmotionNet(nn.Module):
    def __init__(
        self,
        widths: tuple[int, ...] = WIDTHS,
        convs: tuple[int, ...] = CONVS,
        dropout: float = 0.4,
    ):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        for i, (w, n) in enumerate(zip(widths, convs, strict=True)):
            for _ in range(n):
                layers += [nn.Conv2d(cin, w, 3, padding=1, bias=False), nn.BatchNorm2d(w)]
                layers.append(nn.ReLU(inplace=True))
                cin = w
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, NUM_CLASSES)
        self.widths = tuple(widths)
        self.convs = tuple(convs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = x.mean(dim=(2, 3))
        return self.fc(self.dropout(x))


def to_input(x_uint8) -> torch.Tensor:
    """uint8 faces (N, 48, 48) → the network's float input."""
    t = torch.from_numpy(x_uint8).float().unsqueeze(1)
    return t * (2.0 / 255.0) - 1.0
