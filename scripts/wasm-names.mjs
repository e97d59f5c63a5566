// Shortens the names the wasm and its wasm-bindgen glue meet by (run by
// scripts/build-wasm.sh after wasm-opt): usage `node scripts/wasm-names.mjs <dir> <name>`
// for <dir>/<name>_bg.wasm and its glue <dir>/<name>.js (and their .d.ts).
//
// wasm-bindgen names the glue's imports by a hash (`__wbg_push_ab35ee9c6a6febf3`), its
// module `./<name>_bg.js` and its exports `core_input`, `__wbindgen_malloc`…; all of them
// are written in the wasm and again in the glue, and the hashes do not compress. Nothing
// outside the two reads them (the shim calls the glue's `Core` and `init`, whose names
// stay), so wasm-opt renames them to a letter or two and this script renames them in the
// glue the same way: about 200 bytes gzipped of wasm and 100 of JS. First, the exports
// the glue never reads (wasm-bindgen's `__abort_handler` and `__instance_terminated`,
// for its abort-and-reinit option we do not use) are removed.
//
// The renaming is read off the module itself (imports and exports keep their order), and
// every name is checked to occur in the glue exactly as expected: a glue that reads the
// wasm another way (another wasm-bindgen) fails the build rather than the page. The
// renaming is written beside the glue (<name>.names.json), for scripts/bundle-js.mjs to
// rename its cuts' texts (written as wasm-bindgen writes the glue) alike.
import { execFileSync } from "node:child_process";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * `text` (the glue, or part of it) with the names of `names` (`{ modules, imports,
 * exports }`, each a list of `[from, to]`) renamed. `check(what, count)` hears how often
 * each name was found.
 */
export function renameGlue(text, names, check = () => {}) {
  const rename = (re, to, what) => {
    check(what, (text.match(re) ?? []).length);
    text = text.replace(re, to);
  };
  // A member of the import object (`    <name>: function(…`), its module (`"<module>":`).
  for (const [from, to] of names.imports) rename(new RegExp(`^(\\s+)${escape(from)}:`, "gm"), `$1${to}:`, `import ${from}`);
  for (const [from, to] of names.modules) rename(new RegExp(`"${escape(from)}":`, "g"), `"${to}":`, `import module ${from}`);
  // Every read of an export: `wasm.<name>`.
  for (const [from, to] of names.exports) rename(new RegExp(`\\bwasm\\.${escape(from)}\\b`, "g"), `wasm.${to}`, `export ${from}`);
  return text;
}

function main(dir, name) {
  const wasmPath = `${dir}/${name}_bg.wasm`;
  const gluePath = `${dir}/${name}.js`;
  const typePaths = [`${dir}/${name}.d.ts`, `${dir}/${name}_bg.wasm.d.ts`];
  const fail = (why) => {
    console.error(`wasm-names: ${why}`);
    process.exit(1);
  };
  const surface = (bytes) => {
    const m = new WebAssembly.Module(bytes);
    return { imports: WebAssembly.Module.imports(m), exports: WebAssembly.Module.exports(m) };
  };

  const glue = readFileSync(gluePath, "utf8");
  const before = surface(readFileSync(wasmPath));
  const unread = before.exports.map((e) => e.name).filter((n) => !new RegExp(`\\bwasm\\.${escape(n)}\\b`).test(glue));
  const kept = before.exports.filter((e) => !unread.includes(e.name));

  // The wasm features the build uses (wasm-opt writes nothing it does not find in use).
  const features = ["bulk-memory", "nontrapping-float-to-int", "sign-ext", "mutable-globals", "reference-types"].map((f) => `--enable-${f}`);
  const passes = unread.length
    ? ["--remove-exports", `--pass-arg=remove-exports@${unread.join(",")}`, "--remove-unused-module-elements"]
    : [];
  execFileSync(
    "node_modules/.bin/wasm-opt",
    [wasmPath, ...features, ...passes, "--minify-imports-and-exports-and-modules", "-o", `${wasmPath}.names`],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const after = surface(readFileSync(`${wasmPath}.names`));
  if (after.imports.length !== before.imports.length || after.exports.length !== kept.length) {
    fail("the renamed module has other imports or exports than expected");
  }
  const pairs = (from, to) =>
    from.map((x, i) => {
      if (x.kind !== to[i].kind) fail(`${x.name}: kinds differ after renaming`);
      return [x.name, to[i].name];
    });
  const names = {
    modules: [...new Map(before.imports.map((x, i) => [x.module, after.imports[i].module]))],
    imports: pairs(before.imports, after.imports),
    exports: pairs(kept, after.exports),
  };

  // Each import's member and module once in the glue, each export read at least once.
  const renamed = renameGlue(glue, names, (what, n) => {
    if (n === 0 || (!what.startsWith("export") && n !== 1)) fail(`${what}: found ${n} times in the glue`);
  });
  writeFileSync(gluePath, renamed);
  // The declarations (`export const <name>:`, `readonly <name>:`), where they list an export.
  for (const p of typePaths) {
    let t = readFileSync(p, "utf8");
    for (const [from, to] of names.exports) t = t.replace(new RegExp(`\\b(const|readonly) ${escape(from)}:`, "g"), `$1 ${to}:`);
    writeFileSync(p, t);
  }
  writeFileSync(`${dir}/${name}.names.json`, JSON.stringify(names) + "\n");
  renameSync(`${wasmPath}.names`, wasmPath);
  console.log(
    `wasm-names: ${names.imports.length} imports and ${names.exports.length} exports renamed` +
      (unread.length ? `, ${unread.join(", ")} removed (the glue never reads them)` : ""),
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main(...process.argv.slice(2));
