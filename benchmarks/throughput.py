"""Training and sampling throughput of tsdiff's network against PyPOTS CSDI, same architecture.

Both networks have the published AQI-36 architecture (4 layers, 64 channels, 8 heads, 128/128/16
embeddings, 50 quad diffusion steps) on windows of 36 steps x 36 features, on random data (speed
does not depend on the values). Measured:

* training: windows per second of forward + backward + Adam step at ``--batch-size`` windows;
* sampling: network passes (one window-sample through the denoiser at one diffusion step) per
  second while imputing ``--windows`` windows with ``--n-samples`` samples each, through each
  library's own sampling entry point (tsdiff ``sample_windows``, PyPOTS ``CSDI.predict``).

Usage: ``OMP_NUM_THREADS=2 python benchmarks/throughput.py [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.pypots_csdi import pypots_csdi  # noqa: E402
from tsdiff.data import SeriesSet, build_window_store  # noqa: E402
from tsdiff.diffusion import NoiseSchedule  # noqa: E402
from tsdiff.inference import sample_windows  # noqa: E402
from tsdiff.model import CSDIDenoiser  # noqa: E402
from tsdiff.training.module import masked_noise_loss  # noqa: E402

LENGTH = FEATURES = 36
STEPS = 50


def _batch(batch_size: int, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    observed = torch.rand(batch_size, FEATURES, LENGTH, generator=g) > 0.2
    values = torch.randn(batch_size, FEATURES, LENGTH, generator=g) * observed
    stamps = torch.arange(float(LENGTH)).expand(batch_size, LENGTH).contiguous()
    return {"values": values, "observed": observed, "timestamps": stamps}


def _synchronise(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def tsdiff_training(batch_size: int, iterations: int, precision: str, device: str = "cpu") -> float:
    """Windows per second of tsdiff training steps."""
    schedule = NoiseSchedule(num_train_timesteps=STEPS, schedule="quad")
    network = CSDIDenoiser(FEATURES, STEPS, prior_skip=True).to(device).train()
    optimiser = torch.optim.Adam(network.parameters(), lr=1e-3)
    batch = {k: v.to(device) for k, v in _batch(batch_size, 0).items()}
    start = 0.0
    for i in range(iterations + 3):
        if i == 3:
            _synchronise(device)
            start = time.perf_counter()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bf16-mixed"):
            loss, _ = masked_noise_loss(network, schedule, batch, "random")
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    _synchronise(device)
    return iterations * batch_size / (time.perf_counter() - start)


def _pypots_model(batch_size: int) -> Any:
    return pypots_csdi(
        n_steps=LENGTH,
        n_features=FEATURES,
        n_diffusion_steps=STEPS,
        target_strategy="random",
        batch_size=batch_size,
        epochs=1,
        verbose=False,
    )


def pypots_training(batch_size: int, iterations: int) -> float:
    """Windows per second of PyPOTS CSDI training steps (its own loss and data pipeline)."""
    from pypots.imputation.csdi.data import DatasetForCSDI

    model = _pypots_model(batch_size)
    batch = _batch(batch_size, 0)
    x = np.where(batch["observed"].numpy(), batch["values"].numpy(), np.nan).transpose(0, 2, 1)
    loader = torch.utils.data.DataLoader(
        DatasetForCSDI({"X": x}, "random", return_X_ori=False), batch_size=batch_size
    )
    inputs = model._assemble_input_for_training(next(iter(loader)))
    network = model.model.train()
    optimiser = torch.optim.Adam(network.parameters(), lr=1e-3)
    start = 0.0
    for i in range(iterations + 3):
        if i == 3:
            start = time.perf_counter()
        loss = network(inputs, calc_criterion=True)["loss"]
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return iterations * batch_size / (time.perf_counter() - start)


def tsdiff_sampling(
    windows: int, n_samples: int, steps: int, precision: str, device: str = "cpu"
) -> float:
    """Network passes per second of ``sample_windows`` (DDIM) with the estimators' default batch
    (16 window-samples per call on CPU, 256 on a GPU)."""
    schedule = NoiseSchedule(num_train_timesteps=STEPS, schedule="quad")
    network = CSDIDenoiser(FEATURES, STEPS, prior_skip=True).eval()
    rng = np.random.default_rng(0)
    n = windows * LENGTH
    values = np.where(rng.random((n, FEATURES)) < 0.8, rng.standard_normal((n, FEATURES)), np.nan)
    store = build_window_store(
        SeriesSet([values], [np.arange(n, dtype=float)]), [values], LENGTH, LENGTH
    )
    start = time.perf_counter()
    sample_windows(
        network,
        schedule,
        store,
        n_samples=n_samples,
        sampling_steps=steps,
        batch_size=256 if device == "cuda" else 16,
        precision=precision,
        progress=False,
        seed=0,
        device=device,
    )
    _synchronise(device)
    return windows * n_samples * steps / (time.perf_counter() - start)


def pypots_sampling(windows: int, n_samples: int, batch_size: int) -> float:
    """Network passes per second of PyPOTS ``CSDI.predict`` (50 steps per sample)."""
    model = _pypots_model(batch_size)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((windows, LENGTH, FEATURES)).astype(np.float32)
    x[rng.random(x.shape) > 0.8] = np.nan
    start = time.perf_counter()
    model.predict({"X": x}, n_sampling_times=n_samples)
    return windows * n_samples * STEPS / (time.perf_counter() - start)


def _device_run(args: argparse.Namespace) -> dict[str, Any]:
    """tsdiff's training and sampling throughput on a GPU, fp32 and bf16 (no PyPOTS row)."""
    results: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0),
        "batch_size": args.batch_size,
        "train_windows_per_s": {},
        "sampling_passes_per_s": {},
    }
    for precision in ("32-true", "bf16-mixed"):
        results["train_windows_per_s"][precision] = tsdiff_training(
            args.batch_size, args.iterations, precision, "cuda"
        )
        results["sampling_passes_per_s"][precision] = tsdiff_sampling(
            args.windows, args.n_samples, args.ddim_steps, precision, "cuda"
        )
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--windows", type=int, default=16)
    parser.add_argument("--n-samples", type=int, default=2)
    parser.add_argument("--ddim-steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), default="cpu", help="tsdiff only on cuda"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.device == "cuda":
        device_results = _device_run(args)
        print(json.dumps(device_results, indent=2))
        if args.json is not None:
            args.json.write_text(json.dumps(device_results, indent=2))
        return
    results: dict[str, Any] = {"threads": args.threads, "batch_size": args.batch_size}
    results["train_windows_per_s"] = {
        "tsdiff fp32": tsdiff_training(args.batch_size, args.iterations, "32-true"),
        "tsdiff bf16-mixed": tsdiff_training(args.batch_size, args.iterations, "bf16-mixed"),
        "pypots fp32": pypots_training(args.batch_size, args.iterations),
    }
    results["sampling_passes_per_s"] = {
        "tsdiff fp32": tsdiff_sampling(args.windows, args.n_samples, args.ddim_steps, "32-true"),
        "tsdiff bf16-mixed": tsdiff_sampling(
            args.windows, args.n_samples, args.ddim_steps, "bf16-mixed"
        ),
        "pypots fp32": pypots_sampling(args.windows, args.n_samples, args.batch_size),
    }
    train, sample = results["train_windows_per_s"], results["sampling_passes_per_s"]
    for name in ("tsdiff fp32", "tsdiff bf16-mixed"):
        ratio_train = train[name] / train["pypots fp32"]
        per_pass = sample[name] / sample["pypots fp32"]
        print(
            f"{name:18s} train {train[name]:6.1f} win/s ({ratio_train:.2f}x PyPOTS)  "
            f"sampling {sample[name]:6.1f} passes/s ({per_pass:.2f}x per pass, "
            f"{per_pass * STEPS / args.ddim_steps:.1f}x per sample with DDIM-{args.ddim_steps} "
            f"vs 50 steps)"
        )
    print(
        f"{'pypots fp32':18s} train {train['pypots fp32']:6.1f} win/s  "
        f"sampling {sample['pypots fp32']:6.1f} passes/s"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
