# Installs, or upgrades in place, ppsync as a Windows service. Run it in an
# elevated PowerShell from the folder holding ppsync.exe and this script
# (dist\windows-amd64):
#   .\install-windows.ps1 [-Config C:\ProgramData\ppsync\config.toml] [-Account "DOMAIN\svc-ppsync"]
# 'ppsync.exe install' does the work (binary, account, ACLs, recovery, Event
# Log; see docs/install.md) and asks for a password account's password
# without echo. This script checks the config first and starts the service.
param(
  [string]$Config = (Join-Path $env:ProgramData 'ppsync\config.toml'),
  [string]$Account = ''
)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$exe = Join-Path $PSScriptRoot 'ppsync.exe'

if (-not (Test-Path -LiteralPath $Config)) {
  throw "No config at ${Config}: copy config.example.toml there, set parser_id and the inbox (a UNC path), then run this script again."
}
$existing = Get-Service -Name ppsync -ErrorAction SilentlyContinue
if ($null -eq $existing) {
  # First install: the running service would hold the state, so check only now.
  & $exe check -c $Config
  if ($LASTEXITCODE -ne 0) { throw "ppsync check found problems (exit $LASTEXITCODE): fix them, then run this script again." }
}

$installArgs = @('install', '-c', $Config)
if ($Account -ne '') { $installArgs += @('--user', $Account) }
& $exe @installArgs
if ($LASTEXITCODE -ne 0) { throw "ppsync install failed (exit $LASTEXITCODE): see the message above." }

if ((Get-Service -Name ppsync).Status -ne 'Running') {
  & $exe start
  if ($LASTEXITCODE -ne 0) { throw "ppsync start failed (exit $LASTEXITCODE): see the Event Log (Application, source ppsync)." }
}
Write-Host "ppsync is installed and running. Logs: $env:ProgramData\ppsync\logs; warnings and errors also in the Event Log."
