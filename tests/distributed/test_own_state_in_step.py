"""Under torchrun, what a model or objective updates by itself stays one thing across the ranks: a VQ-VAE's
EMA codebook is updated from the whole global batch (its counts and sums all-reduced, restarts from rank 0's
picks), and FactorVAE's discriminator averages its gradients like the model's. Two gloo processes on the CPU."""
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from vae_studio.core.vq import VectorQuantizer

WORLD = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _quantiser(restart_after: int) -> VectorQuantizer:
    q = VectorQuantizer(num_codes=6, code_dim=3, decay=0.9, restart_after=restart_after)
    q.reset_with(torch.Generator().manual_seed(0))
    q.idle_steps.zero_()  # no restarts at the first step: compare the EMA update alone
    return q.train()


def _batches(rank: int | None) -> torch.Tensor:
    """(2, 3, 2, 2) grids per rank; rank None: both ranks' together (one process, the global batch)."""
    x = torch.randn(4, 3, 2, 2, generator=torch.Generator().manual_seed(1))
    return x if rank is None else x[2 * rank:2 * rank + 2]


def _net() -> torch.nn.Linear:
    net = torch.nn.Linear(3, 2)
    torch.nn.init.constant_(net.weight, 0.5)
    torch.nn.init.constant_(net.bias, -0.1)
    return net


def _rank_main(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        from vae_studio.core.distributed import average_gradients_

        q = _quantiser(restart_after=0)
        for _ in range(3):
            q(_batches(rank))
        r = _quantiser(restart_after=1)  # every code is restarted at once: from rank 0's picks
        r.idle_steps.fill_(5)
        r(_batches(rank), torch.Generator().manual_seed(100 + rank))
        net = _net()
        net(_batches(rank).flatten(1)[:, :3]).square().sum().backward()
        average_gradients_(net)
        torch.save({"codebook": q.codebook, "ema_count": q.ema_count, "restarted": r.codebook,
                    "grad": net.weight.grad}, os.path.join(out, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_codebook_and_second_network_stay_one_across_ranks(tmp_path):
    mp.start_processes(_rank_main, args=(_free_port(), str(tmp_path)), nprocs=WORLD, start_method="spawn")
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD))
    for key in ("codebook", "ema_count", "restarted", "grad"):
        assert torch.equal(r0[key], r1[key]), key
    one = _quantiser(restart_after=0)  # one process on the global batch: the same codebook
    for _ in range(3):
        one(_batches(None))
    torch.testing.assert_close(r0["codebook"], one.codebook)
    torch.testing.assert_close(r0["ema_count"], one.ema_count)
    net = _net()
    net(_batches(None).flatten(1)[:, :3]).square().sum().div(WORLD).backward()  # the mean of the ranks' sums
    torch.testing.assert_close(r0["grad"], net.weight.grad)
