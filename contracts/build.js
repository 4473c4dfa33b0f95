// Compiles the contracts in this directory with solcjs (the npm `solc` package, which embeds the
// compiler and works offline) and writes build/<Name>.bin (creation bytecode, hex) and build/<Name>.abi.json.
// Run through ./build.sh, which installs the pinned solc first.
const fs = require("fs");
const path = require("path");
const solc = require(process.env.SOLC_MODULE || "solc");

const dir = __dirname;
const files = ["TestToken.sol", "BalanceReader.sol"];
const input = {
  language: "Solidity",
  sources: Object.fromEntries(
    files.map((f) => [f, { content: fs.readFileSync(path.join(dir, f), "utf8") }]),
  ),
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "shanghai",
    metadata: { bytecodeHash: "none" },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors || []).filter((e) => e.severity === "error");
for (const e of out.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);
fs.mkdirSync(path.join(dir, "build"), { recursive: true });
for (const file of files) {
  for (const [name, c] of Object.entries(out.contracts[file])) {
    fs.writeFileSync(path.join(dir, "build", `${name}.bin`), c.evm.bytecode.object + "\n");
    fs.writeFileSync(path.join(dir, "build", `${name}.abi.json`), JSON.stringify(c.abi, null, 2) + "\n");
    console.log(`${name}: ${c.evm.bytecode.object.length / 2} bytes`);
  }
}
console.log(`compiler ${solc.version()}`);
