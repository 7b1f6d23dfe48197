"""The harness's request bodies, from the real Claude Code first turn.

Usage: python3 bodies.py FIRST_TURN.json OUTDIR
Writes (all with "stream": false, so that the upstream's answer is one static document):
  first-turn.json  the first turn as Claude Code sent it (its tools and system prompt)
  small.json       a short call (~13 KB): a system prompt and a few turns of `aws` output
  session.json     a long session (~1 MB): the first turn, then ~2,700 small messages of
                   `aws` CLI output (JSON, tables, text) with identifiers on many lines
Identifiers are drawn from a seeded generator: every run builds the same bodies.
"""
import json
import random
import sys

first_path, outdir = sys.argv[1], sys.argv[2]
rng = random.Random(20261206)


def hexid(n):
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def account():
    return str(rng.randrange(10**11, 10**12))


def private_ip():
    return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def describe_instances():
    instance, subnet, vpc = f"i-{hexid(17)}", f"subnet-{hexid(17)}", f"vpc-{hexid(17)}"
    return json.dumps({"Reservations": [{"OwnerId": account(), "Instances": [{
        "InstanceId": instance, "ImageId": f"ami-{hexid(17)}", "InstanceType": "m5.large",
        "PrivateIpAddress": private_ip(), "SubnetId": subnet, "VpcId": vpc,
        "SecurityGroups": [{"GroupId": f"sg-{hexid(17)}", "GroupName": "app-servers"}],
        "State": {"Name": "running"}}]}]}, indent=4)


def s3_ls():
    return "\n".join(f"2026-11-{rng.randrange(1, 29):02d} 10:{rng.randrange(60):02d}:00 "
                     f"acme-{rng.choice(['logs', 'data', 'backup', 'ledger'])}-{hexid(6)}"
                     for _ in range(5))


def table():
    rows = [f"|  {f'i-{hexid(17)}':<21}|  {private_ip():<15}|  running  |" for _ in range(4)]
    return "\n".join(["-" * 54, "|                 DescribeInstances                  |",
                      "+" + "-" * 22 + "+" + "-" * 17 + "+" + "-" * 11 + "+", *rows])


def role():
    return json.dumps({"Role": {"RoleName": "deploy-runner", "Arn":
                       f"arn:aws:iam::{account()}:role/deploy-runner",
                       "CreateDate": "2026-01-02T03:04:05Z"}}, indent=4)


def logs():
    return (f"{{\"eventVersion\":\"1.08\",\"userIdentity\":{{\"accountId\":\"{account()}\","
            f"\"accessKeyId\":\"AKIA{hexid(16).upper()}\"}},\"eventName\":\"StopInstances\","
            f"\"sourceIPAddress\":\"{private_ip()}\"}}")


OUTPUTS = [describe_instances, s3_ls, table, role, logs]
COMMANDS = ["aws ec2 describe-instances", "aws s3 ls", "aws ec2 describe-instances --output table",
            "aws iam get-role --role-name deploy-runner", "aws logs filter-log-events"]


def tool_turns(count):
    messages = []
    for n in range(count):
        which = rng.randrange(len(OUTPUTS))
        use_id = f"toolu_{hexid(24)}"
        messages.append({"role": "assistant", "content": [{
            "type": "tool_use", "id": use_id, "name": "Bash",
            "input": {"command": COMMANDS[which], "description": "Look at the account"}}]})
        messages.append({"role": "user", "content": [{
            "type": "tool_result", "tool_use_id": use_id, "content": OUTPUTS[which]()}]})
    return messages


with open(first_path) as f:
    first = json.load(f)
first["stream"] = False


def write(name, body):
    with open(f"{outdir}/{name}", "w") as f:
        json.dump(body, f, separators=(",", ":"))


write("first-turn.json", first)
small = {"model": first["model"], "max_tokens": 1024, "stream": False,
         "system": [{"type": "text", "text": "You are a helpful assistant for AWS operations. "
                     "Use the tools to look at the account before answering. " * 20}],
         "messages": [{"role": "user", "content": "Which instances are running?"},
                      *tool_turns(12)]}
write("small.json", small)
session = dict(first)
session["messages"] = [*first["messages"], *tool_turns(1350)]
write("session.json", session)
