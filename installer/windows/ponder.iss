; Inno Setup 6: installs dist\Ponder for the current user (no admin prompt) with a Start-menu
; shortcut. build.ps1 passes the version and variant; by hand:
;   iscc /DAppVersion=0.1.0 /DVariant=cpu installer\windows\ponder.iss
#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef Variant
  #define Variant "cpu"
#endif

[Setup]
AppId={{5B0F3C62-9E4A-4C1D-8F27-6A1E2D9B7C40}
AppName=Ponder
AppVersion={#AppVersion}
AppPublisher=Ponder
DefaultDirName={autopf}\Ponder
DefaultGroupName=Ponder
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=Ponder-{#AppVersion}-windows-x64-{#Variant}-setup
SetupIconFile=..\..\build\icons\ponder.ico
UninstallDisplayIcon={app}\ponder.exe
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern

[Tasks]
Name: desktopicon; Description: "Create a desktop shortcut"; Flags: unchecked

[Files]
Source: "..\..\dist\Ponder\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\Ponder"; Filename: "{app}\ponder.exe"
Name: "{autodesktop}\Ponder"; Filename: "{app}\ponder.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\ponder.exe"; Description: "Start Ponder"; Flags: nowait postinstall skipifsilent
