#!/usr/bin/env python3
"""The layering test: holds the build's library graph against docs/ARCHITECTURE.md.

The table under "## Layers" in docs/ARCHITECTURE.md gives, for each of our CMake libraries, its
layer, its folder and the libraries it links directly. This script fails, naming each
disagreement, when
  - a library of the build is missing from the table, or the table names one the build lacks;
  - a library sits in another folder than the table says;
  - a library links other libraries of ours than the table lists (the table is the graph);
  - a library links one of the same or a higher layer (the layering);
  - a library's own source file (or the header beside it) includes a header from a folder whose
    libraries it does not link, directly or through others.
The graph comes from the configure step (cmake/GalaxyLinkGraph.cmake writes it into the build
directory). `--self-test` checks that each of those faults is caught.
"""
import argparse
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def read_graph(path):
    """{library: (folder, set of deps, [sources])} from the configure step's file."""
    graph = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            name, folder = parts[0], parts[1]
            fields = dict(p.split("=", 1) for p in parts[2:])
            deps = {d for d in fields.get("deps", "").split(",") if d}
            sources = [s for s in fields.get("sources", "").split(",") if s]
            graph[name] = (folder, deps, sources)
    return graph


def read_table(text):
    """{library: (layer, folder, set of deps)} from the "## Layers" table of the markdown."""
    section = re.search(r"^## Layers\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    if not section:
        raise ValueError("docs/ARCHITECTURE.md has no '## Layers' section")
    table = {}
    for line in section.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].isdigit():
            continue
        layer, folder, library, deps = cells
        strip = lambda s: s.strip().strip("`").strip("/")
        deps = {strip(d) for d in deps.split(",") if strip(d) and strip(d) != "-"}
        table[strip(library)] = (int(layer), strip(folder), deps)
    if not table:
        raise ValueError("the '## Layers' table of docs/ARCHITECTURE.md has no rows")
    return table


def closure(graph, library):
    seen, todo = set(), [library]
    while todo:
        for dep in graph[todo.pop()][1]:
            if dep not in seen and dep in graph:
                seen.add(dep)
                todo.append(dep)
    return seen


def check(graph, table, read_source):
    """The list of faults; read_source(path relative to the root) -> text or None."""
    faults = []
    for lib in sorted(set(graph) - set(table)):
        faults.append(f"{lib} ({graph[lib][0]}/) is built but not in the Layers table")
    for lib in sorted(set(table) - set(graph)):
        faults.append(f"{lib} is in the Layers table but not built")
    for lib in sorted(set(graph) & set(table)):
        folder, deps, _ = graph[lib]
        layer, table_folder, table_deps = table[lib]
        if folder != table_folder:
            faults.append(f"{lib} is built from {folder}/, the table says {table_folder}/")
        if deps != table_deps:
            extra, missing = sorted(deps - table_deps), sorted(table_deps - deps)
            faults.append(f"{lib} links {', '.join(extra) or '-'} beyond the table and not "
                          f"{', '.join(missing) or '-'} that it lists")
        for dep in sorted(deps):
            if dep in table and table[dep][0] >= layer:
                faults.append(f"{lib} (layer {layer}) links {dep} (layer {table[dep][0]}): "
                              "a library may link only lower layers")
    # Which libraries each folder's headers belong to (the deepest folder wins: data/sim/ over data/).
    owners = {}
    for lib, (_, folder, _) in table.items():
        owners.setdefault(folder, set()).add(lib)
    folders = sorted(owners, key=len, reverse=True)
    for lib in sorted(set(graph) & set(table)):
        folder, _, sources = graph[lib]
        allowed = closure(graph, lib) | {lib}
        files = set()
        for s in sources:
            if s.startswith(".."):
                continue  # generated (protoc output in the build directory)
            files.add(os.path.join(folder, s))
            if s.endswith(".cc"):
                files.add(os.path.join(folder, s[:-3] + ".h"))
        for path in sorted(files):
            text = read_source(path)
            if text is None:
                continue
            for header in INCLUDE.findall(text):
                owner = next((f for f in folders if header.startswith(f + "/")), None)
                if owner is not None and not owners[owner] & allowed:
                    faults.append(f"{path} ({lib}) includes {header}, from {owner}/, "
                                  f"whose library it does not link")
    return faults


def self_test():
    table = read_table("""## Layers
| layer | folder | library | links |
| --- | --- | --- | --- |
| 0 | `core/` | `galaxy_core` | - |
| 1 | `data/` | `galaxy_data` | `galaxy_core` |
| 2 | `data/sim/` | `galaxy_sim` | `galaxy_data` |
| 2 | `data/photoz/` | `galaxy_photoz` | `galaxy_data` |
| 3 | `model/` | `galaxy_model` | `galaxy_core` |
""")
    good = {"galaxy_core": ("core", set(), ["a.cc"]),
            "galaxy_data": ("data", {"galaxy_core"}, ["b.cc"]),
            "galaxy_sim": ("data/sim", {"galaxy_data"}, ["c.cc"]),
            "galaxy_photoz": ("data/photoz", {"galaxy_data"}, []),
            "galaxy_model": ("model", {"galaxy_core"}, ["d.cc"])}
    sources = {"core/a.cc": '#include "core/a.h"\n', "data/b.cc": '#include "core/a.h"\n',
               "data/sim/c.cc": '#include "data/b.h"\n#include "core/a.h"\n',
               "model/d.cc": '#include "core/a.h"\n'}
    assert check(good, table, sources.get) == [], check(good, table, sources.get)

    def faults_with(graph=None, files=None):
        return check(graph or good, table, {**sources, **(files or {})}.get)

    upward = dict(good, galaxy_core=("core", {"galaxy_model"}, ["a.cc"]))
    found = faults_with(upward)
    assert any("layer 0) links galaxy_model (layer 3)" in f for f in found), found
    assert any("galaxy_core links galaxy_model beyond the table" in f for f in found), found
    same_layer = dict(good, galaxy_sim=("data/sim", {"galaxy_data", "galaxy_photoz"}, ["c.cc"]))
    assert any("galaxy_sim (layer 2) links galaxy_photoz (layer 2)" in f for f in faults_with(same_layer))
    unlisted = dict(good, galaxy_io=("io", set(), ["e.cc"]))
    assert any("galaxy_io (io/) is built but not in the Layers table" in f for f in faults_with(unlisted))
    moved = dict(good, galaxy_sim=("sim", {"galaxy_data"}, ["c.cc"]))
    assert any("built from sim/, the table says data/sim/" in f for f in faults_with(moved))
    missing = {k: v for k, v in good.items() if k != "galaxy_model"}
    assert any("galaxy_model is in the Layers table but not built" in f for f in faults_with(missing))
    # A header from a folder the library does not link, also through the header beside a source.
    bad_include = faults_with(files={"model/d.cc": '#include "data/sim/c.h"\n'})
    assert bad_include == ["model/d.cc (galaxy_model) includes data/sim/c.h, from data/sim/, "
                           "whose library it does not link"], bad_include
    assert faults_with(files={"core/a.h": '#include "data/b.h"\n'}), "a header beside a source"
    # data/sim/ is its own library: data/ does not own it.
    assert faults_with(files={"data/b.cc": '#include "data/sim/c.h"\n'})
    print("self-test passed: upward and same-layer links, unlisted, moved and missing libraries, "
          "and includes across the layering are all caught")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", help="the link graph the configure step wrote")
    parser.add_argument("--architecture", help="docs/ARCHITECTURE.md")
    parser.add_argument("--source", help="the source root")
    parser.add_argument("--self-test", action="store_true", help="check that each fault is caught")
    args = parser.parse_args()
    if args.self_test:
        self_test()
        return 0
    if not (args.graph and args.architecture and args.source):
        parser.error("--graph, --architecture and --source are required (or --self-test)")
    graph = read_graph(args.graph)
    with open(args.architecture) as f:
        table = read_table(f.read())

    def read_source(path):
        try:
            with open(os.path.join(args.source, path)) as f:
                return f.read()
        except FileNotFoundError:
            return None

    faults = check(graph, table, read_source)
    for fault in faults:
        print(f"layering: {fault}", file=sys.stderr)
    if faults:
        print(f"{len(faults)} disagreement(s) between the build and the Layers table of "
              f"{args.architecture}", file=sys.stderr)
        return 1
    print(f"layering holds: {len(graph)} libraries, "
          f"{sum(len(d) for _, d, _ in graph.values())} links, every one to a lower layer, "
          "as docs/ARCHITECTURE.md lists them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
