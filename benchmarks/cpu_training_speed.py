"""Training-step speed on CPU: fp32 vs bf16 autocast, contiguous vs channels-last.

One optimiser step (forward, L2 loss, backward, AdamW) of a 12-layer 64-channel conv net
(the shape of FFDNet's body) on a batch of 32 x 48x48 patches, 2 threads, best-of-5 after
2 warm-up steps, all four variants in one run. bf16 needs AMX / AVX512-BF16 to pay off.

    .venv/bin/python benchmarks/cpu_training_speed.py
"""

from __future__ import annotations

import time


def main() -> None:
    import torch
    from torch import nn

    torch.set_num_threads(2)
    torch.manual_seed(0)

    def net() -> nn.Module:
        layers: list[nn.Module] = [nn.Conv2d(5, 64, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(10):
            layers += [nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(inplace=True)]
        return nn.Sequential(*layers, nn.Conv2d(64, 4, 3, padding=1))

    rows = []
    for channels_last in (False, True):
        for dtype in (None, torch.bfloat16):
            model = net()
            opt = torch.optim.AdamW(model.parameters(), 1e-3)
            x, y = torch.randn(32, 5, 48, 48), torch.randn(32, 4, 48, 48)
            if channels_last:
                model = model.to(memory_format=torch.channels_last)
                x = x.contiguous(memory_format=torch.channels_last)

            def step() -> None:
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
                    loss = ((model(x).float() - y) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()

            step()
            step()
            best = float("inf")
            for _ in range(5):
                t = time.perf_counter()
                step()
                best = min(best, time.perf_counter() - t)
            rows.append((channels_last, "bf16" if dtype else "fp32", best))
    base = rows[0][2]
    print("| layout | precision | s / step | speed-up vs fp32 contiguous |")
    print("|---|---|---|---|")
    for cl, prec, sec in rows:
        print(f"| {'channels-last' if cl else 'contiguous'} | {prec} | {sec:.3f} | {base / sec:.2f}x |")


if __name__ == "__main__":
    main()
