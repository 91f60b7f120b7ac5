"""The network: a VGG-style CNN sized for a Pi core (≈ 0.66 M parameters, ≈ 68 M MACs).

Four blocks of two 3×3 conv + BatchNorm + ReLU (widths 24-48-96-192) with 2×2 max-pooling
between them, global average pooling, dropout and one linear layer. Every layer maps to a
TFLite builtin (CONV_2D with fused ReLU after folding BatchNorm, MAX_POOL_2D,
AVERAGE_POOL_2D, FULLY_CONNECTED, SOFTMAX), so ``export_tflite.py`` can write it directly.
Input: [N, 1, 48, 48], the grayscale face scaled to [-1, 1] (``x/255*2-1``).
"""

from __future__ import annotations

import torch
from torch import nn

WIDTHS = (24, 48, 96, 192)
INPUT_SIZE = 48
NUM_CLASSES = 7


class EmotionNet(nn.Module):
    def __init__(self, widths: tuple[int, ...] = WIDTHS, dropout: float = 0.4):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        for i, w in enumerate(widths):
            for _ in range(2):
                layers += [nn.Conv2d(cin, w, 3, padding=1, bias=False), nn.BatchNorm2d(w)]
                layers.append(nn.ReLU(inplace=True))
                cin = w
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, NUM_CLASSES)
        self.widths = tuple(widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = x.mean(dim=(2, 3))
        return self.fc(self.dropout(x))


def to_input(x_uint8) -> torch.Tensor:
    """uint8 faces (N, 48, 48) → the network's float input."""
    t = torch.from_numpy(x_uint8).float().unsqueeze(1)
    return t * (2.0 / 255.0) - 1.0
