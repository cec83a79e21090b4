"""The dead-letter stage: what every stage sends to ``alpr.dlq`` when a message fails for good,
and what people do with it afterwards.

``letters`` turns a failed message into a ``DeadLetter`` (and a replayed one back into a
message that carries its history); ``replay`` reads and replays the topic; ``cli`` holds the
``alpr dlq`` commands built on it. Sending a letter is ``agents.emit``'s, shared by the stages.
"""
