// The two bundles of js/dist (run by scripts/build-js.sh, from the repository root):
// esbuild bundles js/src with the wasm-bindgen glue of js/pkg, then terser minifies.
//
//   js/dist/hlsmesh.js          the npm package (ESM); hls.js stays external, a peer dependency
//   js/dist/hlsmesh.drop-in.js  the drop-in script tag (js/src/drop-in.ts): one classic
//                               script that installs the loaders into the page's window.Hls
import { readFile, writeFile } from "node:fs/promises";
import * as esbuild from "esbuild";
import { minify } from "terser";
import { renameGlue } from "./wasm-names.mjs";

// Parts of wasm-bindgen's glue (js/pkg/hlsmesh_wasm.js) that the shim never reaches, cut
// from the bundled copy (js/pkg itself stays as wasm-bindgen wrote it, but for the names
// scripts/wasm-names.mjs shortens). The shim calls
// the glue's init only as `init()` or `init({ module_or_path: url })` with a string or
// URL, which the glue fetches: the glue's other argument forms and its non-Response
// path are dead. Each cut is an exact text as wasm-bindgen writes it (the names the glue
// and the wasm meet by renamed as scripts/wasm-names.mjs renamed them in js/pkg); one
// the glue no longer contains (another wasm-bindgen) is reported and skipped, leaving
// the glue whole there.
const GLUE_CUTS = [
  [
    "passStringToWasm0 by TextEncoder.encode (the same bytes; no ASCII loop, no encodeInto and realloc)",
    `    if (realloc === undefined) {
        const buf = cachedTextEncoder.encode(arg);
        const ptr = malloc(buf.length, 1) >>> 0;
        getUint8ArrayMemory0().subarray(ptr, ptr + buf.length).set(buf);
        WASM_VECTOR_LEN = buf.length;
        return ptr;
    }

    let len = arg.length;
    let ptr = malloc(len, 1) >>> 0;

    const mem = getUint8ArrayMemory0();

    let offset = 0;

    for (; offset < len; offset++) {
        const code = arg.charCodeAt(offset);
        if (code > 0x7F) break;
        mem[ptr + offset] = code;
    }
    if (offset !== len) {
        if (offset !== 0) {
            arg = arg.slice(offset);
        }
        ptr = realloc(ptr, len, len = offset + arg.length * 3, 1) >>> 0;
        const view = getUint8ArrayMemory0().subarray(ptr + offset, ptr + len);
        const ret = cachedTextEncoder.encodeInto(arg, view);

        offset += ret.written;
        ptr = realloc(ptr, len, offset, 1) >>> 0;
    }

    WASM_VECTOR_LEN = offset;
    return ptr;
`,
    `    return passArray8ToWasm0(cachedTextEncoder.encode(arg), malloc);
`,
  ],
  [
    "TextEncoder.encodeInto's fallback (passStringToWasm0 no longer calls it)",
    `if (!('encodeInto' in cachedTextEncoder)) {
    cachedTextEncoder.encodeInto = function (arg, view) {
        const buf = cachedTextEncoder.encode(arg);
        view.set(buf);
        return {
            read: arg.length,
            written: buf.length
        };
    };
}
`,
    "",
  ],
  [
    "Core.input's number coercions and its clean-up of the argument copies after a throw (the shim passes numbers, which the wasm call converts alike; a throw there is a trap, after which the agent never calls the module again)",
    `        const val3 = +now_ms;
        const val4 = +kind;
        const val5 = +id;
        const val6 = +n;
        let ptr0, len0, ptr1, len1;
        try {
            ptr0 = isLikeNone(text) ? 0 : passStringToWasm0(text, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            len0 = WASM_VECTOR_LEN;
            ptr1 = isLikeNone(data) ? 0 : passArray8ToWasm0(data, wasm.__wbindgen_malloc);
            len1 = WASM_VECTOR_LEN;
        } catch (e) {
            if (ptr1) { wasm.__wbindgen_free(ptr1, len1 * 1, 1); }
            if (ptr0) { wasm.__wbindgen_free(ptr0, len0 * 1, 1); }
            throw e;
        }
        wasm.core_input(this.__wbg_ptr, val3, val4, val5, val6, ptr0, len0, ptr1, len1);
`,
    `        const ptr0 = isLikeNone(text) ? 0 : passStringToWasm0(text, wasm.__wbindgen_malloc);
        const len0 = WASM_VECTOR_LEN;
        const ptr1 = isLikeNone(data) ? 0 : passArray8ToWasm0(data, wasm.__wbindgen_malloc);
        wasm.core_input(this.__wbg_ptr, now_ms, kind, id, n, ptr0, len0, ptr1, WASM_VECTOR_LEN);
`,
  ],
  [
    "Core's constructor's number coercions (the wasm call converts alike)",
    `        const val2 = +max_peers;
        const val3 = +cache_bytes;
        const val4 = +integrity;
        const val5 = +upload_bytes_per_sec;
        const val6 = +download_only;
        const val7 = +seed;
        const ptr0 = passStringToWasm0(trackers, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.core_new(ptr0, len0, val2, val3, val4, val5, val6, val7, on_panic);
`,
    `        const ptr0 = passStringToWasm0(trackers, wasm.__wbindgen_malloc);
        const ret = wasm.core_new(ptr0, WASM_VECTOR_LEN, max_peers, cache_bytes, integrity, upload_bytes_per_sec, download_only, seed, on_panic);
`,
  ],
  [
    "Core.free's helper, inlined (its only caller)",
    `    __destroy_into_raw() {
        const ptr = this.__wbg_ptr;
        this.__wbg_ptr = 0;
        CoreFinalization.unregister(this);
        return ptr;
    }
    free() {
        const ptr = this.__destroy_into_raw();
        wasm.__wbg_core_free(ptr, 0);
    }
`,
    `    free() {
        const ptr = this.__wbg_ptr;
        this.__wbg_ptr = 0;
        CoreFinalization.unregister(this);
        wasm.__wbg_core_free(ptr, 0);
    }
`,
  ],
  [
    "instantiating a module given as bytes or a WebAssembly.Module (the shim passes a URL)",
    `    } else {
        const instance = await WebAssembly.instantiate(module, imports);

        if (instance instanceof WebAssembly.Instance) {
            return { instance, module };
        } else {
            return instance;
        }
    }
`,
    `    }
`,
  ],
  [
    "init's deprecated argument form (the shim passes { module_or_path })",
    `    if (module_or_path !== undefined) {
        if (Object.getPrototypeOf(module_or_path) === Object.prototype) {
            ({module_or_path} = module_or_path)
        } else {
            console.warn('using deprecated parameters for the initialization function; pass a single object instead')
        }
    }
`,
    `    if (module_or_path !== undefined) ({module_or_path} = module_or_path);
`,
  ],
  [
    "the wrong-MIME-type warning, shortened (the glue still falls back to WebAssembly.instantiate)",
    "console.warn(\"`WebAssembly.instantiateStreaming` failed because your server does not serve Wasm with `application/wasm` MIME type. Falling back to `WebAssembly.instantiate` which is slower. Original error:\\n\", e);",
    'console.warn("[hlsmesh] the .wasm is not served as application/wasm, compiling it the slower way:", e);',
  ],
  [
    "init's own once-only guard (index.ts calls init once, and keeps its promise)",
    `let __wbg_init_promise;
async function __wbg_init(module_or_path) {
    if (wasm !== undefined) return wasm;
    if (__wbg_init_promise === undefined) {
        __wbg_init_promise = __wbg_init_once(module_or_path);
        __wbg_init_promise.catch(() => { __wbg_init_promise = undefined; });
    }
    return __wbg_init_promise;
}
`,
    `const __wbg_init = __wbg_init_once;
`,
  ],
  [
    "Core's Symbol.dispose (the agent frees its Core itself)",
    `if (Symbol.dispose) Core.prototype[Symbol.dispose] = Core.prototype.free;
`,
    "",
  ],
];

const trimGlue = {
  name: "trim-glue",
  setup(build) {
    build.onLoad({ filter: /[\\/]js[\\/]pkg[\\/]hlsmesh_wasm\.js$/ }, async (args) => {
      let text = await readFile(args.path, "utf8");
      // No renaming without wasm-opt (wasm-pack.toml), which does it.
      const names = await readFile(args.path.replace(/\.js$/, ".names.json"), "utf8").then(JSON.parse, () => ({ modules: [], imports: [], exports: [] }));
      for (let [what, from, to] of GLUE_CUTS) {
        [from, to] = [renameGlue(from, names), renameGlue(to, names)];
        if (text.includes(from)) text = text.replace(from, to);
        else console.warn(`bundle-js: not in the wasm-bindgen glue, left as is: ${what}`);
      }
      return { contents: text, loader: "js" };
    });
  },
};

const common = {
  bundle: true,
  target: "es2020",
  minify: true,
  // Members named with one underscore and a letter are the shim's own (private or
  // @internal, never read by hls.js, the page or the wasm glue, whose names start with
  // two): renamed to short names. Keep that convention for such members only.
  mangleProps: /^_[A-Za-z]/,
  external: ["hls.js"],
  logLevel: "warning",
  plugins: [trimGlue],
  write: false,
};

const bundles = [
  { outfile: "js/dist/hlsmesh.js", entryPoints: ["js/src/index.ts"], format: "esm" },
  // The drop-in passes the .wasm URL (beside the script) explicitly, so wasm-bindgen's
  // import.meta.url default is never used.
  { outfile: "js/dist/hlsmesh.drop-in.js", entryPoints: ["js/src/drop-in.ts"], format: "iife", define: { "import.meta.url": "undefined" } },
];

for (const b of bundles) {
  const { outputFiles } = await esbuild.build({ ...common, ...b });
  // A second pass: terser's compressor and mangler (names by frequency) take about 4%
  // more off the gzipped bundles. Property names are left alone here.
  const { code } = await minify(outputFiles[0].text, { ecma: 2020, module: b.format === "esm", compress: { passes: 2 }, mangle: true });
  await writeFile(b.outfile, code);
}
