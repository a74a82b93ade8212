"""init: make the working folder (``var/``, ``outputs/``, optionally editable parameters) and say what was made."""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from ..bundled import PARAMETERS, PROGRAMME_PATH, ROSTER_PATH, RUBRIC_PATH, home, outputs_dir, var_dir
from ..errors import display_path

EDITABLE = (RUBRIC_PATH, ROSTER_PATH, PROGRAMME_PATH)  # the parameters an option can point at


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="建立工作目录：var/（评分库与备份）、outputs/（报告与汇总），可选复制参数文件")
    p.add_argument(
        "--parameters", action="store_true", help="同时把指标体系、机构名单与项目设置复制到 parameters/ 以便修改"
    )
    p.set_defaults(handler=cmd_init)


def cmd_init(args: argparse.Namespace) -> int:
    folder = home()
    print(f"工作目录：{folder}")
    for path, what in ((var_dir(), "评分库与备份"), (outputs_dir(), "报告、汇总表与公示名单")):
        existed = path.is_dir()
        path.mkdir(parents=True, exist_ok=True)
        print(f"  {path.name}/（{what}）：{'已存在，未改动' if existed else '已建立'}")
    if args.parameters:
        _copy_parameters(folder / PARAMETERS.name)
    if not os.environ.get("RUBRIC_KERNEL_DB"):
        print("评分库在首次使用时建立：var/rubric-kernel.sqlite（并导入演示数据集的评分文件）")
    print("未指定 --data 时使用随软件安装的演示数据（合成数据，所有结果均标注“演示数据”）。")
    return 0


def _copy_parameters(dest: Path) -> None:
    dest.mkdir(exist_ok=True)
    for source in EDITABLE:
        target = dest / source.name
        if target.exists():
            print(f"  {display_path(target)}：已存在，未覆盖")
        else:
            shutil.copyfile(source, target)
            print(f"  {display_path(target)}：已复制，可修改")
    print(
        "  修改后的参数须在命令中指定：--rubric parameters/rubric.yaml --roster parameters/institutions.csv，"
        "流程命令另加 --programme parameters/programme.yaml"
    )
