"""Campaign runs: a playbook version started at a time, its steps materialised into the team's tasks.

- :mod:`~sopflow.campaign.start`: freeze a version and create every task (owners, due times, scripts).
- :mod:`~sopflow.campaign.lifecycle`: list, show, pause, resume and cancel campaigns; list tasks.
- :mod:`~sopflow.campaign.tasks`: the task state machine and what people do to tasks (done, skip, confirm).
- :mod:`~sopflow.campaign.worker`: delivers due tasks, exactly once, across crashes.
"""
