// The official TypeScript SDK through maskgate: a plain and a streamed message.
// Usage: node ts_sdk.mjs BASE_URL PROMPT  -> prints one JSON object with what the SDK returned.
import Anthropic from "@anthropic-ai/sdk";

const [baseURL, prompt] = process.argv.slice(2);
const client = new Anthropic({ baseURL, apiKey: "sk-ant-test", maxRetries: 0 });
const messages = [{ role: "user", content: prompt }];

const plain = await client.messages.create({ model: "claude-test", max_tokens: 100, messages });
let streamed = "";
const stream = client.messages.stream({ model: "claude-test", max_tokens: 100, messages });
stream.on("text", (text) => { streamed += text; });
await stream.finalMessage();

console.log(JSON.stringify({
  plain: plain.content.filter((b) => b.type === "text").map((b) => b.text).join(""),
  streamed,
}));
