"""One training-time budget for every job: `--max-train-minutes` is the total training time of a run, across
resumes, in pretraining and fine-tuning alike."""

import time

from torch.optim.lr_scheduler import LambdaLR
from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

CLOCKS = {
    "wall": time.perf_counter,
    # CPU seconds of this process (all its threads). Two runs compared "at equal CPU time" on a shared machine get
    # the same compute whatever else runs beside them; with one torch thread it is the wall time of an idle machine.
    "cpu": time.process_time,
}
CLOCK_HELP = ("What --max-train-minutes counts: 'wall' (elapsed time) or 'cpu' (this process's CPU time, for "
              "comparing runs at equal compute on a shared machine).")


class TimeBudget(TrainerCallback, ExportableState):
    """Ends training once `minutes` of it have passed, with a last evaluation and checkpoint, so that a run on a
    slow or shared machine still ends with its best model. The time spent is saved with each checkpoint
    (`stateful_callbacks` in trainer_state.json) and counted on after `--resume`, so a killed run gets the same
    budget in all as one that ran through.

    With `schedules_lr`, the fine-tuning trainer takes its learning-rate schedule from here: linear warmup and decay
    over the budget's time or the training steps, whichever is further along. A step-only schedule over 20 epochs
    leaves a run that the clock stops after 4 of them at 90% of the peak rate, after spending two of them warming up;
    decaying to zero at the budget is what budgeted training should do (Li et al., 2020, "Budgeted Training:
    Rethinking Deep Neural Network Training Under Resource Constraints")."""

    def __init__(self, minutes: float, spent_seconds: float = 0.0, schedules_lr: bool = False, clock: str = "wall"):
        if clock not in CLOCKS:
            raise ValueError(f"Unknown budget clock {clock!r}: choose one of {', '.join(CLOCKS)}.")
        self.seconds, self.spent_seconds, self.started = 60 * minutes, spent_seconds, None
        self.schedules_lr, self.clock = schedules_lr, clock

    def elapsed_seconds(self) -> float:
        now = CLOCKS[self.clock]
        return self.spent_seconds + (now() - self.started if self.started is not None else 0.0)

    def linear_schedule(self, optimizer, total_steps: int, warmup_steps: int) -> LambdaLR:
        warmup = warmup_steps / total_steps  # the same share of the run as --warmup-steps asks of the steps

        def factor(step: int) -> float:
            progress = min(1.0, max(step / total_steps, self.elapsed_seconds() / self.seconds))
            return progress / warmup if progress < warmup else (1.0 - progress) / (1.0 - warmup)

        return LambdaLR(optimizer, factor)

    def state(self) -> dict:
        return {"args": {"minutes": self.seconds / 60, "spent_seconds": round(self.elapsed_seconds(), 1),
                         "clock": self.clock},
                "attributes": {}}

    def on_train_begin(self, args, state, control, **kwargs):
        # A resumed Trainer has loaded the checkpoint's state before this call. Read it here rather than through
        # `restore_callback_states_from_checkpoint`, which would also restore TrainerControl's switches.
        saved = state.stateful_callbacks.get(type(self).__name__)
        self.spent_seconds = saved["args"]["spent_seconds"] if saved else self.spent_seconds
        # Checkpoints written before this callback existed have no entry; the Trainer's save would fail on it.
        state.stateful_callbacks.setdefault(type(self).__name__, self.state())
        self.started = CLOCKS[self.clock]()

    def on_step_end(self, args, state, control, **kwargs):
        if self.elapsed_seconds() > self.seconds:
            control.should_training_stop = control.should_evaluate = control.should_save = True


def budget_lr_scheduler(trainer, num_training_steps: int, optimizer=None):
    """For a `Trainer.create_scheduler` override: the linear schedule over the time budget of a `TimeBudget`
    callback with `schedules_lr`, set as the trainer's scheduler before the Trainer would make its own."""
    budget = next((callback for callback in trainer.callback_handler.callbacks
                   if isinstance(callback, TimeBudget) and callback.schedules_lr), None)
    if trainer.lr_scheduler is None and budget is not None:
        trainer.lr_scheduler = budget.linear_schedule(optimizer or trainer.optimizer, num_training_steps,
                                                      trainer.args.get_warmup_steps(num_training_steps))
