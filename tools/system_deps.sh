#!/usr/bin/env bash
# Install the system packages the product needs, only when missing:
#   fonts   — a CJK font, so reports and charts viewed or printed on this machine show real Chinese glyphs
#             (Debian fonts-wqy-microhei, 5 MB)
#   browser — Debian chromium for the end-to-end browser tests (never a browser download)
#   postgres — a PostgreSQL server, so the store's tests also run against a real server
#   office  — headless LibreOffice Calc and poppler, so the tests print every workbook to PDF and read it back
set -euo pipefail
want=${1:-fonts}
need=()
case "$want" in
  fonts) fc-list 2>/dev/null | grep -qiE 'wqy|noto sans cjk|noto serif cjk' || need+=(fonts-wqy-microhei fontconfig) ;;
  browser) command -v chromium >/dev/null 2>&1 || need+=(chromium) ;;
  postgres) compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql) ;;
  office) { command -v soffice && command -v pdftotext; } >/dev/null 2>&1 || need+=(libreoffice-calc-nogui poppler-utils) ;;
  *) echo "用法：$0 fonts|browser|postgres|office" >&2; exit 2 ;;
esac
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  # Not fatal: reports render Chinese with the reader's fonts; the browser, PostgreSQL and office tests skip without them.
  echo "提示：缺少系统软件包 ${need[*]}（需 root 安装：apt-get install ${need[*]}）；继续运行。" >&2
  exit 0
fi
echo "正在安装系统软件包：${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
