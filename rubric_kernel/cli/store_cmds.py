"""import-judgments, export-sheet and history: moving judgments in and out of the store."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import identity, people
from ..bundled import ID_MAP_PATH, outputs_dir
from ..errors import display_path
from ..files import atomic_write
from ..id_map import load_id_map, remap
from ..judgments import current_sheet, expand, import_judgments
from ..labels import describe_version, local_time
from ..score_sheet import score_sheet_xlsx
from .common import add_data_options, open_store, open_workspace
from .people_cmds import acting_admin


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import-judgments", help="把评分文件（YAML/JSON）导入评分库，每处改动记为新版本")
    p.add_argument("files", nargs="+", help="评分文件或目录")
    add_data_options(p)
    p.set_defaults(handler=cmd_import)

    p = sub.add_parser("export-sheet", help="导出一家机构的评分表（XLSX，可打印签字）")
    p.add_argument("number", type=int, help="机构序号")
    add_data_options(p)
    p.add_argument("--out", help="输出文件（默认 outputs/sheets/NN-评分表.xlsx）")
    p.set_defaults(handler=cmd_export_sheet)

    p = sub.add_parser("remap-ids", help="按标识对应表把评分库中旧标识下的评分迁移到新标识（追加新版本）")
    p.add_argument("--map", help="标识对应表（默认 parameters/id-map.yaml）")
    p.add_argument("--reason", required=True, help="迁移理由，例如“按官方分值分配更新指标体系”")
    add_data_options(p)
    p.set_defaults(handler=cmd_remap_ids)

    p = sub.add_parser("history", help="查看一家机构评分的全部修改记录")
    p.add_argument("number", type=int, help="机构序号")
    p.add_argument("--key", help="只看某一项，例如 sc-2023:ind:12（指标 12）")
    add_data_options(p)
    p.set_defaults(handler=cmd_history)


def cmd_remap_ids(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    mapping = load_id_map(args.map or ID_MAP_PATH, ws.rubric)  # checked before the store is touched
    with open_store(args) as store:  # not bootstrapped: its orphans are what this command resolves
        admin = acting_admin(store, ws.dataset.name, "迁移评分标识")
        written = [v for vs in remap(store, ws, mapping, by=admin, reason=args.reason) for v in vs]
    if not written:
        print("评分库中没有需要迁移到新标识的评分，未写入任何内容。")
        return 0
    institutions = {v.institution for v in written}
    print(f"已将 {len(institutions)} 家机构的评分迁移到新标识：新增 {len(written)} 个版本，原有版本全部保留。")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    with open_store(args) as store:
        people.bootstrap_demo(store, ws.dataset.name, ws.dataset.folder, ws.dataset.synthetic)
        actor = identity.current(store, ws.dataset.name)
        written = import_judgments(store, ws, expand(args.files), actor=actor)
    changed = {n: v for n, v in written.items() if v}
    for n, versions in sorted(changed.items()):
        print(
            f"机构 {n} {ws.roster[n].name}：新增 {len(versions)} 个版本（{'、'.join(v.key for v in versions[:6])}"
            f"{' 等' if len(versions) > 6 else ''}）"
        )
    print(f"导入完成：{len(written)} 份文件，{len(changed)} 家机构有改动，{len(written) - len(changed)} 家无变化。")
    return 0


def cmd_export_sheet(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    inst = ws.institution(args.number)
    with open_store(args, ws) as store:
        sheet = current_sheet(store, ws, inst.number)
        experts = sorted({v.expert for v in store.history(ws.dataset.name, inst.number)})
    result = ws.score(inst.number, sheet)
    out = Path(args.out) if args.out else outputs_dir() / "sheets" / f"{inst.number:02d}-评分表.xlsx"
    atomic_write(out, score_sheet_xlsx(ws.rubric, inst, result, ws.dataset.mark, experts, sheet.opinion))
    print(display_path(out))
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    inst = ws.institution(args.number)
    with open_store(args, ws) as store:
        versions = store.history(ws.dataset.name, inst.number, args.key)
    print(f"机构 {inst.number} {inst.name}：共 {len(versions)} 个版本")
    for v in versions:
        what = describe_version(ws.rubric, v.key, v.content)
        print(
            f"  {local_time(v.created_at)}  {v.expert}  [{v.stage}]  {v.key} 版本{v.seq}  {what}  说明：{v.reason or '—'}"
        )
    return 0
