"""Feature handlers: plain `async def handler(event, ctx)` functions, one router per module."""
