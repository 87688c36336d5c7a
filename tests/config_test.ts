import assert from "node:assert/strict";
import { lateStampProblem, loadConfig, parseConfig, validateConfig } from "../lib/config.ts";
import { ConfigError, ExitCode } from "../lib/errors.ts";
import { runMain } from "./_helpers.ts";

const FILE = "factory_config.json";

function problemsOf(text: string | Uint8Array): string[] {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  try {
    parseConfig(bytes, FILE);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    assert.equal(error.exitCode, ExitCode.usage);
    return error.lines;
  }
  assert.fail("the config was accepted");
}

Deno.test("a valid config yields its lines in file order", () => {
  const { factories, warnings } = parseConfig(
    new TextEncoder().encode(
      '{"F1":[{"sodaName":"Cola","number":3,"sensorID":"S1-1"},{"sodaName":"Lemon","number":1,"sensorID":"S1-2"}],"F2":[]}',
    ),
    FILE,
  );
  assert.deepEqual(factories, {
    F1: [{ sodaName: "Cola", number: 3, sensorID: "S1-1" }, { sodaName: "Lemon", number: 1, sensorID: "S1-2" }],
    F2: [],
  });
  assert.deepEqual(warnings, []);
});

Deno.test("the shipped sample config is valid", async () => {
  const { factories, warnings } = await loadConfig(new URL("../factory_config.json", import.meta.url).pathname);
  assert.deepEqual(Object.keys(factories), ["F1", "F2", "F3"]);
  for (const lines of Object.values(factories)) {
    assert.ok(lines.length >= 2 && lines.length <= 3);
    for (const line of lines) assert.ok(line.number >= 5 && line.number <= 12);
  }
  assert.deepEqual(warnings, []);
});

Deno.test("a byte-order mark is accepted", () => {
  const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('{"F1":[]}')]);
  assert.deepEqual(parseConfig(bytes, FILE).factories, { F1: [] });
});

Deno.test("every bad-input class gets one clear line naming the file and the path", async (t) => {
  const cases: [string, string | Uint8Array, string[]][] = [
    ["an empty file", "", [`${FILE}: is empty: expected a JSON object of factories`]],
    ["a file of blanks", "  \n\t\n", [`${FILE}: is empty: expected a JSON object of factories`]],
    ["invalid JSON, with line and column", '{\n  "F1": [\n    {"sodaName": "x",}\n  ]\n}', [
      `${FILE}: is not valid JSON: property name expected at line 3 column 22`,
    ]],
    ["truncated JSON", '{"F1": [', [`${FILE}: is not valid JSON: unexpected end of input at line 1 column 9`]],
    ["invalid UTF-8", new Uint8Array([0x7b, 0x22, 0x46, 0xff, 0x22, 0x7d]), [
      `${FILE}: is not valid UTF-8 text (first bad byte at offset 3)`,
    ]],
    ["invalid UTF-8 after multi-byte characters", new Uint8Array([0x7b, 0x22, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xff]), [
      `${FILE}: is not valid UTF-8 text (first bad byte at offset 7)`,
    ]],
    ["UTF-8 cut off at the end", new Uint8Array([0x7b, 0x7d, 0x20, 0xe2, 0x82]), [
      `${FILE}: is not valid UTF-8 text (first bad byte at offset 3)`,
    ]],
    ["a top level that is an array", "[]", [
      `${FILE}: the top level must be an object mapping factory ids to arrays of lines (e.g. {"F1": [...]}): got []`,
    ]],
    ["a top level that is a string", '"F1"', [
      `${FILE}: the top level must be an object mapping factory ids to arrays of lines (e.g. {"F1": [...]}): got "F1"`,
    ]],
    ["a factory that is not an array", '{"F1": {"sodaName": "x"}}', [
      `${FILE}: F1 must be an array of lines: got {"sodaName":"x"}`,
    ]],
    ["a line that is not an object", '{"F1": [42]}', [
      `${FILE}: F1[0] must be an object with sodaName, number and sensorID: got 42`,
    ]],
    ["missing fields", '{"F1": [{}]}', [
      `${FILE}: F1[0].sodaName is missing`,
      `${FILE}: F1[0].number is missing`,
      `${FILE}: F1[0].sensorID is missing`,
    ]],
    ["mistyped fields", '{"F1": [{"sodaName": 1, "number": "5", "sensorID": true}]}', [
      `${FILE}: F1[0].sodaName must be a non-empty string: got 1`,
      `${FILE}: F1[0].number must be a positive integer: got "5"`,
      `${FILE}: F1[0].sensorID must be a non-empty string: got true`,
    ]],
    ["empty strings", '{"F1": [{"sodaName": "", "number": 5, "sensorID": ""}]}', [
      `${FILE}: F1[0].sodaName must be a non-empty string: got ""`,
      `${FILE}: F1[0].sensorID must be a non-empty string: got ""`,
    ]],
    [
      "non-integer and non-positive numbers",
      `{"F1": [
      {"sodaName": "a", "number": 2.5, "sensorID": "S1-1"},
      {"sodaName": "b", "number": 0, "sensorID": "S1-1"},
      {"sodaName": "c", "number": -3, "sensorID": "S1-1"},
      {"sodaName": "d", "number": 1e300, "sensorID": "S1-1"}]}`,
      [
        `${FILE}: F1[0].number must be a positive integer: got 2.5`,
        `${FILE}: F1[1].number must be a positive integer: got 0`,
        `${FILE}: F1[2].number must be a positive integer: got -3`,
        `${FILE}: F1[3].number must be a positive integer: got 1e+300`,
      ],
    ],
    ["problems in several factories, all reported at once", '{"F1": [{"sodaName": "a"}], "F2": 3}', [
      `${FILE}: F1[0].number is missing`,
      `${FILE}: F1[0].sensorID is missing`,
      `${FILE}: F2 must be an array of lines: got 3`,
    ]],
  ];
  for (const [name, input, expected] of cases) {
    await t.step(name, () => assert.deepEqual(problemsOf(input), expected));
  }
});

Deno.test("signals and faults: per line and as defaults for all lines", () => {
  const { factories, defaults, warnings } = parseConfig(
    new TextEncoder().encode(JSON.stringify({
      defaults: { signal: { type: "gaussian", setpoint: 50, sigma: 2 }, faults: [{ kind: "offline", perHour: 0.5 }] },
      F1: [{
        sodaName: "Cola",
        number: 3,
        sensorID: "S1-1",
        signal: {
          type: "sine",
          base: 4,
          amplitude: 1,
          period: "15m",
          noise: 0.1,
          drift: 0.2,
          decimals: 2,
          min: 0,
          max: 10,
        },
        faults: [{ kind: "stuck", at: "10m", for: "2m" }, { kind: "late", perHour: 1, lateBy: "5m" }],
      }],
    })),
    FILE,
  );
  assert.deepEqual(warnings, []);
  assert.deepEqual(defaults.faults, [{ kind: "offline", perHour: 0.5 }]);
  assert.equal(defaults.signal?.type, "gaussian");
  assert.equal(factories.F1[0].signal?.type, "sine");
  assert.equal(factories.F1[0].faults?.length, 2);
  assert.ok(!("defaults" in factories), "defaults is not a factory");
});

Deno.test("bad signals and faults are named by their path, all at once", () => {
  assert.deepEqual(
    problemsOf(JSON.stringify({
      defaults: { signal: { type: "square" }, extra: 1 },
      F1: [{
        sodaName: "Cola",
        number: 3,
        sensorID: "S1-1",
        signal: { type: "sine", base: 1, amplitude: 1, period: "soon", min: 5, max: 5 },
        faults: [{ kind: "melt", at: "1m" }, { kind: "spike" }, { kind: "dip", at: "1m", perHour: 2, magnitude: -1 }],
      }],
    })),
    [
      `${FILE}: F1[0].signal.period must be a duration from 1ms to 3650d like "10m", or a number of seconds: got "soon"`,
      `${FILE}: F1[0].signal must have min below max (the instrument range): got {"type":"sine","base":1,"amplitude":1,"period":"soon","min":…(+10 chars)`,
      `${FILE}: F1[0].faults[0].kind must be one of spike, dip, stuck, dropout, offline, out_of_range, duplicate, late: got "melt"`,
      `${FILE}: F1[0].faults[1] must have either at (a scheduled fault) or perHour (random faults): got {"kind":"spike"}`,
      `${FILE}: F1[0].faults[2].magnitude must be a number greater than 0 and at most 1e9: got -1`,
      `${FILE}: F1[0].faults[2] must have either at (a scheduled fault) or perHour (random faults): got {"kind":"dip","at":"1m","perHour":2,"magnitude":-1}`,
      `${FILE}: defaults.signal.type must be one of uniform, gaussian, sine, walk: got "square"`,
      `${FILE}: defaults has an unknown field "extra"`,
    ],
  );
});

Deno.test("unknown fields of a line are ignored with a warning", () => {
  const { warnings } = parseConfig(
    new TextEncoder().encode('{"F1": [{"sodaName": "a", "number": 1, "sensorID": "S1-1", "colour": "red"}]}'),
    FILE,
  );
  assert.deepEqual(warnings, [`${FILE}: F1[0].colour is not a known field and is ignored`]);
});

Deno.test("a file that cannot be read is named in the error", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    await t.step("missing", async () => {
      await assert.rejects(loadConfig(`${dir}/nope.json`), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(error.lines, [
          `${dir}/nope.json: cannot be read: no such file (pass --config PATH to use another file)`,
        ]);
        return true;
      });
    });
    await t.step("a directory", async () => {
      await assert.rejects(loadConfig(dir), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.lines[0], new RegExp(`^${dir}: cannot be read: `));
        return true;
      });
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a top-level $schema key, for editors, is accepted and ignored", async (t) => {
  await t.step("a string", () => {
    const { factories, warnings } = parseConfig(
      new TextEncoder().encode(
        '{"$schema":"./factory_config.schema.json","F1":[{"sodaName":"Cola","number":3,"sensorID":"S1-1"}]}',
      ),
      FILE,
    );
    assert.deepEqual(factories, { F1: [{ sodaName: "Cola", number: 3, sensorID: "S1-1" }] });
    assert.deepEqual(warnings, []);
  });
  await t.step("anything else is a problem, listed with the others", () => {
    assert.deepEqual(problemsOf('{"$schema": 3, "F1": 4}'), [
      `${FILE}: $schema must be a string (the path or URL of a JSON Schema): got 3`,
      `${FILE}: F1 must be an array of lines: got 4`,
    ]);
  });
});

Deno.test("deeply nested JSON is one config error naming the file and where, never a stack overflow", async (t) => {
  const cases: [string, string, string][] = [
    ["5,000 unclosed [", "[".repeat(5_000), "line 1 column 65"],
    ['{"a": repeated', '{"a":'.repeat(5_000), "line 1 column 321"],
    ["200,000 balanced []", "[".repeat(200_000) + "]".repeat(200_000), "line 1 column 65"],
    ["inside a line's unknown field", `{"F1": [{"x": ${"[".repeat(100)}${"]".repeat(100)}}]}`, "line 1 column 76"],
    ["on a later line", `{\n"F1":\n  ${"[".repeat(70)}`, "line 3 column 66"],
  ];
  for (const [name, text, where] of cases) {
    await t.step(name, () => {
      assert.deepEqual(problemsOf(text), [
        `${FILE}: nests arrays and objects more than 64 deep (at ${where}); a config needs 5`,
      ]);
    });
  }
  await t.step("already parsed data: the path where it goes too deep", () => {
    const data = JSON.parse(`{"F1": [{"x": {"y": ${"[".repeat(100)}${"]".repeat(100)}}}]}`);
    assert.throws(() => validateConfig(data, FILE), (error: ConfigError) => {
      assert.deepEqual(error.lines, [
        `${FILE}: F1[0].x.y${"[0]".repeat(60)} nests arrays and objects more than 64 deep; a config needs 5`,
      ]);
      return true;
    });
  });
  await t.step("brackets inside strings do not count", () => {
    const name = "[{".repeat(90) + '\\"';
    const { factories } = parseConfig(
      new TextEncoder().encode(`{"F1": [{"sodaName": "${name}", "number": 1, "sensorID": "S1-1", "x": "${name}{"}]}`),
      FILE,
    );
    assert.equal(factories.F1[0].sodaName, JSON.parse(`"${name}"`));
  });
  await t.step("64 deep is fine (a line's unknown field may hold nested data)", () => {
    const deep = `${"[".repeat(60)}${"]".repeat(60)}`;
    const { warnings } = parseConfig(
      new TextEncoder().encode(`{"F1": [{"sodaName": "a", "number": 1, "sensorID": "S1-1", "x": ${deep}}]}`),
      FILE,
    );
    assert.deepEqual(warnings, [`${FILE}: F1[0].x is not a known field and is ignored`]);
  });
});

Deno.test("__proto__, constructor and prototype keys are refused wherever they are, with the other problems", async (t) => {
  const reserved = (where: string, key: string) =>
    `${FILE}: ${where} has the key "${key}", which a config may not use (__proto__, constructor, prototype are reserved)`;
  const cases: [string, string, string[]][] = [
    [
      "top level, holding factories (once a crash: lines.forEach is not a function)",
      '{"__proto__": {"F1": [{"sodaName": "a", "number": 1, "sensorID": "S1-1"}]}}',
      [reserved("the top level", "__proto__")],
    ],
    [
      "top level, holding lines (once: ok with 0 factories, the bad number unchecked)",
      '{"__proto__": [{"sodaName": "a", "number": -1, "sensorID": "S1-1"}]}',
      [reserved("the top level", "__proto__")],
    ],
    [
      "beside a factory, whose problems are still listed",
      '{"__proto__": [], "F1": [{"sodaName": "a", "number": -1, "sensorID": "S1-1"}]}',
      [reserved("the top level", "__proto__"), `${FILE}: F1[0].number must be a positive integer: got -1`],
    ],
    [
      "in a line",
      '{"F1": [{"sodaName": "a", "number": 1, "sensorID": "S1-1", "__proto__": {"number": 2}}]}',
      [reserved("F1[0]", "__proto__")],
    ],
    [
      "in a signal and a fault",
      '{"F1": [{"sodaName": "a", "number": 1, "sensorID": "S1-1", "signal": {"type": "uniform", "constructor": 1}, ' +
      '"faults": [{"kind": "spike", "at": 1, "prototype": {}}]}]}',
      [reserved("F1[0].signal", "constructor"), reserved("F1[0].faults[0]", "prototype")],
    ],
    ["in defaults", '{"defaults": {"__proto__": {}}}', [reserved("defaults", "__proto__")]],
    ["as a factory id", '{"constructor": []}', [reserved("the top level", "constructor")]],
  ];
  for (const [name, text, expected] of cases) {
    await t.step(name, () => assert.deepEqual(problemsOf(text), expected));
  }
  await t.step("as a value, the words are fine", () => {
    const { factories } = parseConfig(
      new TextEncoder().encode('{"F1": [{"sodaName": "__proto__", "number": 1, "sensorID": "S1-1"}]}'),
      FILE,
    );
    assert.equal(factories.F1[0].sodaName, "__proto__");
  });
});

Deno.test("a number beyond a double is shown as the file writes it, not as null", () => {
  assert.deepEqual(
    problemsOf(
      '{"F1": [{"sodaName": "a", "number": 1e400, "sensorID": "S1-1"}, ' +
        '{"sodaName": "b", "number": 2, "sensorID": "S1-1", "signal": {"type": "uniform", "max": -1E+999}}]}',
    ),
    [
      `${FILE}: F1[0].number must be a positive integer: got 1e400 (beyond what a number can hold, about ±1.8e308)`,
      `${FILE}: F1[1].signal.max must be a number from -1e9 to 1e9 (upper end of the instrument range): got -1E+999 (beyond what a number can hold, about ±1.8e308)`,
    ],
  );
});

Deno.test("keys and values in messages are escaped and bounded", () => {
  const problems = problemsOf(
    JSON.stringify({ ["F\u001b[2J".repeat(30)]: 7, F1: [{ sodaName: "x\n".repeat(100), number: "y", sensorID: "S" }] }),
  );
  assert.equal(problems.length, 2);
  for (const problem of problems) {
    assert.ok(![...problem].some((c) => c.charCodeAt(0) < 0x20), problem);
    assert.ok(problem.length < 400, problem);
  }
});

Deno.test("fault parameters are bounded, each message naming the field and its bound", () => {
  const line = (faults: unknown[]) => ({ sodaName: "a", number: 1, sensorID: "S1-1", faults });
  assert.deepEqual(
    problemsOf(JSON.stringify({
      F1: [line([
        { kind: "late", at: 0, lateBy: "3651d" },
        { kind: "spike", perHour: 1e-300, magnitude: 1e300 },
        { kind: "dip", perHour: 1e6, for: 1e12 },
        { kind: "stuck", at: "99999999999999999999d" },
      ])],
    })),
    [
      `${FILE}: F1[0].faults[0].lateBy must be a duration from 0 to 3650d like "30s" or "1h30m", or a number of seconds (how much older the timestamps are): got "3651d"`,
      `${FILE}: F1[0].faults[1].perHour must be a number from 0.00001 to 3600 (expected faults per hour): got 1e-300`,
      `${FILE}: F1[0].faults[1].magnitude must be a number greater than 0 and at most 1e9: got 1e+300`,
      `${FILE}: F1[0].faults[2].perHour must be a number from 0.00001 to 3600 (expected faults per hour): got 1000000`,
      `${FILE}: F1[0].faults[2].for must be a duration from 0 to 3650d like "30s" or "1h30m", or a number of seconds (how long it lasts): got 1000000000000`,
      `${FILE}: F1[0].faults[3].at must be a duration from 0 to 3650d like "30s" or "1h30m", or a number of seconds (time after the start of the run): got "99999999999999999999d"`,
    ],
  );
});

Deno.test("a backfill whose late readings would be stamped before 1970 is named, with the earliest start that works", () => {
  const config = parseConfig(
    new TextEncoder().encode(JSON.stringify({
      defaults: { faults: [{ kind: "late", perHour: 1 }] },
      F1: [{ sodaName: "a", number: 1, sensorID: "S1-1", faults: [{ kind: "late", at: 0, lateBy: "1d12h" }] }],
    })),
    FILE,
  );
  assert.equal(
    lateStampProblem(config, Date.UTC(1970, 0, 1, 12), FILE),
    `${FILE}: F1[0].faults[0] stamps readings 36 h early, before 1970-01-01 for a backfill from ` +
      "1970-01-01T12:00:00.000Z (Kafka timestamps are not negative): start the backfill at 1970-01-02T12:00:00.000Z or later",
  );
  assert.equal(lateStampProblem(config, Date.UTC(1970, 0, 2, 12), FILE), undefined, "from then on, fine");
  const defaultsOnly = parseConfig(
    new TextEncoder().encode('{"defaults": {"faults": [{"kind": "late", "at": 1}]}}'),
    FILE,
  );
  assert.match(
    lateStampProblem(defaultsOnly, 0, FILE)!,
    /^factory_config.json: defaults.faults\[0\] stamps readings 5 min early/,
  );
});

Deno.test("a run refuses such a backfill before producing anything: exit 2, one line", async () => {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(
      path,
      JSON.stringify({ F1: [{ sodaName: "a", number: 3, sensorID: "S1-1", faults: [{ kind: "late", at: 0 }] }] }),
    );
    const { code, stdout, stderr } = await runMain(
      ["--sink", "console", "--config", path, "--factories", "1", "--backfill", "1970-01-01..1970-01-02"],
    );
    assert.equal(code, ExitCode.usage);
    assert.equal(stdout, "");
    assert.equal(
      stderr,
      `error: ${path}: F1[0].faults[0] stamps readings 5 min early, before 1970-01-01 for a backfill from ` +
        "1970-01-01T00:00:00.000Z (Kafka timestamps are not negative): start the backfill at 1970-01-01T00:05:00.000Z or later\n",
    );
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("soda names and sensor ids are at most 200 characters: a name goes into every record", () => {
  assert.deepEqual(
    problemsOf(JSON.stringify({ F1: [{ sodaName: "a".repeat(201), number: 1, sensorID: "S".repeat(10_000_000) }] })),
    [
      `${FILE}: F1[0].sodaName must be at most 200 characters long: got "${"a".repeat(60)}…(+141 chars)"`,
      `${FILE}: F1[0].sensorID must be at most 200 characters long: got "${"S".repeat(60)}…(+9,999,940 chars)"`,
    ],
  );
  assert.doesNotThrow(() =>
    parseConfig(
      new TextEncoder().encode(JSON.stringify({ F1: [{ sodaName: "é".repeat(200), number: 1, sensorID: "S1-1" }] })),
      FILE,
    )
  );
});
