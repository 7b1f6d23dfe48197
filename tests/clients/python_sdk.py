"""The official Python SDK through maskgate: a plain and a streamed message, and a token count.

Usage: python3 python_sdk.py BASE_URL PROMPT  -> prints one JSON object with what the SDK returned.
"""
import json
import sys

import anthropic

base_url, prompt = sys.argv[1], sys.argv[2]
client = anthropic.Anthropic(base_url=base_url, api_key="sk-ant-test", max_retries=0)
messages = [{"role": "user", "content": prompt}]

plain = client.messages.create(model="claude-test", max_tokens=100, messages=messages)
with client.messages.stream(model="claude-test", max_tokens=100, messages=messages) as stream:
    streamed = "".join(stream.text_stream)
count = client.messages.count_tokens(model="claude-test", messages=messages)

print(json.dumps({
    "plain": "".join(block.text for block in plain.content if block.type == "text"),
    "streamed": streamed,
    "input_tokens": count.input_tokens,
}))
