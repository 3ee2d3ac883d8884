# Installs ppsync as a Windows service. Run in an elevated PowerShell:
#   .\install-windows.ps1 [-Config C:\ProgramData\ppsync\config.toml] [-Account "DOMAIN\svc-ppsync"]
# The service account must be able to reach the inbox shares: use UNC paths
# (\\server\share\folder) in the config, never mapped drive letters.
param(
  [string]$Config = "$env:ProgramData\ppsync\config.toml",
  [string]$Account = ""
)
$ErrorActionPreference = "Stop"
$dest = "$env:ProgramFiles\ppsync"
New-Item -ItemType Directory -Force -Path $dest | Out-Null
New-Item -ItemType Directory -Force -Path (Split-Path $Config) | Out-Null
New-Item -ItemType Directory -Force -Path "$env:ProgramData\ppsync\logs" | Out-Null
$src = Join-Path $PSScriptRoot "ppsync.exe"
if (Get-Service ppsync -ErrorAction SilentlyContinue) {
  & "$dest\ppsync.exe" stop 2>$null
}
Copy-Item $src "$dest\ppsync.exe" -Force
if (-not (Test-Path $Config)) {
  Write-Host "No config at $Config: copy config.example.toml there, set parser_id and the inbox (a UNC path), then run this script again."
  exit 1
}
# Keep the key file and state readable by administrators and the service only.
icacls (Split-Path $Config) /inheritance:r /grant:r "Administrators:(OI)(CI)F" "SYSTEM:(OI)(CI)F" | Out-Null
& "$dest\ppsync.exe" check -c $Config
if ($LASTEXITCODE -ne 0) { Write-Host "Fix the problems above, then run this script again."; exit 1 }
if (Get-Service ppsync -ErrorAction SilentlyContinue) { & "$dest\ppsync.exe" uninstall }
$args = @("install", "-c", $Config)
if ($Account -ne "") { $args += @("--user", $Account) }
& "$dest\ppsync.exe" @args
if ($Account -ne "") {
  Write-Host "Set the password of $Account for the service: sc.exe config ppsync obj= `"$Account`" password= <password>"
  icacls (Split-Path $Config) /grant "${Account}:(OI)(CI)M" | Out-Null
}
& "$dest\ppsync.exe" start
Write-Host "ppsync is installed (delayed automatic start). Logs: $env:ProgramData\ppsync\logs, warnings also in the Event Log."
