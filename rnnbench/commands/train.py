"""``rnnbench train``: one implementation trained on one task, its final loss against the task's levels and
goals; ``--out`` keeps the run as JSON (``rnnbench.training.train``)."""

from __future__ import annotations

from rnnbench.commands.config_args import add_config_arguments, check_fits, config_from_args, load_data
from rnnbench.console import emit
from rnnbench.errors import UserError
from rnnbench.files import check_output, write_json
from rnnbench.spec import registry
from rnnbench.spec.arguments import ExtendUnique
from rnnbench.spec.params import load_params
from rnnbench.tasks import task as task_by_name

HELP = "train one implementation on one task"


def add_arguments(p) -> None:
    p.add_argument("--impl", required=True, action=ExtendUnique, help="a name from `rnnbench list`")
    add_config_arguments(p)
    p.add_argument("--weights-in", help="npz of the canonical arrays to start from (W b U c; the GRU adds bh; "
                                        "bidirectional adds bwd_W bwd_b ...); default: the canonical init")
    p.add_argument("--data-in", help="npz used as the data of every epoch: what `rnnbench gen --task T` writes "
                                     "(digits: a Keras-format mnist.npz)")
    p.add_argument("--out", help="write the run as JSON here")


def run(args) -> int:
    from rnnbench.training.train import train  # keeps `rnnbench list` light

    if len(args.impl) > 1:
        raise UserError(f"impl: train runs one implementation, got {', '.join(args.impl)}; "
                        "`rnnbench bench --impl A --impl B` times several")
    impl = args.impl[0]
    registry.entry(impl)  # unknown names fail before any file is read
    if args.out:
        check_output(args.out, "--out", keep=(args.weights_in, args.data_in))
    spec = task_by_name(args.task)
    data = load_data(args.data_in, spec) if args.data_in else None
    config = config_from_args(args, spec.config_from_data(data) if data is not None else None)
    registry.entry(impl).check(config)
    check_fits(config, data=data is None)
    params = load_params(args.weights_in, config) if args.weights_in else None
    result = train(impl, config, params=params, data=data)
    levels = result.levels
    metrics = "".join(f", {k} {v:.4f}" for k, v in result.metrics.items() if isinstance(v, float))
    nearest = f" ({levels.labels()[levels.nearest(result.final_loss)]})" if len(levels) > 1 else ""
    if args.out:  # saved before anything is printed: a full or closed stdout must not lose the run
        write_json(args.out, result.to_json())
    emit(
        f"{result.impl}: final_loss {result.final_loss:.4f}{nearest}{metrics}, {result.steps} steps, "
        f"{result.us_per_step:.1f} us/step, build {result.build_seconds:.3f} s "
        f"[{config.task}, {config.variant}, {config.optimizer}]"
    )
    if args.out:
        emit(f"wrote {args.out}")
    return 0
