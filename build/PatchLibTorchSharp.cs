// Compiled by MSBuild's RoslynCodeTaskFactory (see Directory.Build.targets); not part of any project.
//
// Why this exists: TorchSharp 0.107's libLibTorchSharp.so was linked against GCC 13's libstdc++ and so
// declares a need for the symbol version GLIBCXX_3.4.32. Only one symbol carries that version
// (_ZSt21ios_base_library_initv) and no relocation refers to it: GCC 13 emits it to pin the library
// version, not because the code calls it. Hosts with an older libstdc++ (Debian 12 stops at 3.4.30)
// refuse to load the library. Marking that one version need VER_FLG_WEAK makes the dynamic loader accept
// an older libstdc++ while every symbol that is really used still resolves normally.
//
// The task patches the copy in a build or publish output only, never the NuGet cache: it writes the
// patched bytes to a new file and renames it over the output copy, so a hard link or symbolic link
// into the cache is replaced rather than written through.

// tests/CremaD.Learning.Tests compiles this file too, with LIBTORCHSHARP_PATCH_TESTS defined, to test the ELF code.

#nullable disable

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text;
#if !LIBTORCHSHARP_PATCH_TESTS
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class PatchLibTorchSharpVersionNeeds : Task
{
    /// <summary>The libLibTorchSharp.so copies in the output (missing files are ignored).</summary>
    [Required]
    public ITaskItem[] Libraries { get; set; } = Array.Empty<ITaskItem>();

    /// <summary>The version whose need is made weak.</summary>
    public string Version { get; set; } = "GLIBCXX_3.4.32";

    /// <summary>Patched files (for callers and logs).</summary>
    [Output]
    public ITaskItem[] Patched { get; set; } = Array.Empty<ITaskItem>();

    public override bool Execute()
    {
        var existing = new List<string>();
        foreach (var item in Libraries)
        {
            var path = item.GetMetadata("FullPath");
            if (File.Exists(path)) existing.Add(path);
        }
        if (existing.Count == 0) return true;

        var hostLibrary = LibStdCxxLocator.Find();
        if (hostLibrary is null)
        {
            Log.LogMessage(MessageImportance.High,
                "libLibTorchSharp.so: no libstdc++.so.6 found on this host; leaving {0} unpatched.", string.Join(", ", existing));
            return true;
        }
        if (LibStdCxxLocator.Provides(hostLibrary, Version))
        {
            Log.LogMessage(MessageImportance.Low, "libLibTorchSharp.so: {0} provides {1}; no patch needed.", hostLibrary, Version);
            return true;
        }

        var patched = new List<ITaskItem>();
        foreach (var path in existing)
        {
            byte[] image;
            try
            {
                image = File.ReadAllBytes(path);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                Log.LogError("libLibTorchSharp.so patch: cannot read '{0}': {1}", path, e.Message);
                return false;
            }

            ElfVersionNeeds.Outcome outcome;
            try
            {
                outcome = ElfVersionNeeds.MakeWeak(image, Version);
            }
            catch (InvalidDataException e)
            {
                Log.LogError("libLibTorchSharp.so patch: '{0}' does not have the expected ELF layout: {1}", path, e.Message);
                return false;
            }

            switch (outcome)
            {
                case ElfVersionNeeds.Outcome.NotNeeded:
                    Log.LogMessage(MessageImportance.Normal, "libLibTorchSharp.so: '{0}' does not need {1}; nothing to patch.", path, Version);
                    break;
                case ElfVersionNeeds.Outcome.AlreadyWeak:
                    Log.LogMessage(MessageImportance.Low, "libLibTorchSharp.so: '{0}' is already patched.", path);
                    break;
                case ElfVersionNeeds.Outcome.Patched:
                    try
                    {
                        ReplaceAtomically(path, image);
                    }
                    catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
                    {
                        Log.LogError("libLibTorchSharp.so patch: cannot write '{0}': {1}", path, e.Message);
                        return false;
                    }
                    Log.LogMessage(MessageImportance.High,
                        "Patched {0}: its {1} need is now weak because this host's {2} lacks {1}.", path, Version, hostLibrary);
                    patched.Add(new TaskItem(path));
                    break;
            }
        }
        Patched = patched.ToArray();
        return !Log.HasLoggedErrors;
    }

    /// <summary>
    /// Writes <paramref name="image"/> next to <paramref name="path"/> and renames it over the original, keeping the
    /// original's timestamp so MSBuild's incremental copy (size + time) sees the output as up to date.
    /// </summary>
    private static void ReplaceAtomically(string path, byte[] image)
    {
        var lastWrite = File.GetLastWriteTimeUtc(path);
        var temporary = path + ".patch-" + Guid.NewGuid().ToString("N") + ".tmp";
        try
        {
            // Copying first carries the file mode over; then the copy's bytes are replaced in place.
            File.Copy(path, temporary);
            using (var stream = new FileStream(temporary, FileMode.Open, FileAccess.Write))
            {
                stream.Write(image, 0, image.Length);
                stream.SetLength(image.Length);
            }
            File.SetLastWriteTimeUtc(temporary, lastWrite);
            File.Replace(temporary, path, null);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }
}

#endif

/// <summary>Finds the host's libstdc++.so.6 and tells whether it provides a symbol version.</summary>
internal static class LibStdCxxLocator
{
    private static readonly string[] CandidatePaths =
    {
        "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6",
        "/lib64/libstdc++.so.6",
        "/usr/lib/libstdc++.so.6",
        "/lib/libstdc++.so.6",
    };

    public static string Find()
    {
        foreach (var candidate in CandidatePaths)
        {
            if (File.Exists(candidate)) return candidate;
        }
        return FromLdconfigCache();
    }

    /// <summary>True when the library's bytes contain the version name (it is in the version-definition strings).</summary>
    public static bool Provides(string library, string version)
    {
        var needle = Encoding.ASCII.GetBytes(version + "\0");
        var haystack = File.ReadAllBytes(library);
        return IndexOf(haystack, needle) >= 0;
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (var i = 0; i + needle.Length <= haystack.Length; i++)
        {
            if (haystack[i] != needle[0]) continue;
            var j = 1;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return i;
        }
        return -1;
    }

    private static string FromLdconfigCache()
    {
        foreach (var ldconfig in new[] { "/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig" })
        {
            try
            {
                var start = new ProcessStartInfo(ldconfig, "-p") { RedirectStandardOutput = true, UseShellExecute = false };
                using var process = Process.Start(start);
                if (process is null) continue;
                var output = process.StandardOutput.ReadToEnd();
                process.WaitForExit();
                foreach (var line in output.Split('\n'))
                {
                    // "	libstdc++.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libstdc++.so.6"
                    var trimmed = line.Trim();
                    if (!trimmed.StartsWith("libstdc++.so.6 ", StringComparison.Ordinal) || !trimmed.Contains("x86-64")) continue;
                    var arrow = trimmed.IndexOf("=> ", StringComparison.Ordinal);
                    if (arrow < 0) continue;
                    var target = trimmed.Substring(arrow + 3).Trim();
                    if (File.Exists(target)) return target;
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // That ldconfig does not exist; try the next.
            }
        }
        return null;
    }
}

/// <summary>
/// Minimal ELF64 little-endian reader/writer for the version-needs section (.gnu.version_r), located through the
/// section headers and .shstrtab; names come from the string table the section links to.
/// </summary>
internal static class ElfVersionNeeds
{
    public enum Outcome { NotNeeded, AlreadyWeak, Patched }

    private const ushort VerFlagWeak = 0x2;
    private const uint SectionTypeVersionNeeds = 0x6ffffffe; // SHT_GNU_verneed
    private const uint SectionTypeStringTable = 3;            // SHT_STRTAB

    public static Outcome MakeWeak(byte[] image, string version)
    {
        if (image.Length < 64 || image[0] != 0x7f || image[1] != (byte)'E' || image[2] != (byte)'L' || image[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (image[4] != 2) throw new InvalidDataException("not ELF64 (EI_CLASS=" + image[4] + ")");
        if (image[5] != 1) throw new InvalidDataException("not little-endian (EI_DATA=" + image[5] + ")");

        var sectionHeaderOffset = U64(image, 0x28, "e_shoff");
        var sectionHeaderSize = U16(image, 0x3A, "e_shentsize");
        var sectionCount = U16(image, 0x3C, "e_shnum");
        var namesSectionIndex = U16(image, 0x3E, "e_shstrndx");
        if (sectionHeaderOffset == 0 || sectionCount == 0) throw new InvalidDataException("no section header table");
        if (sectionHeaderSize != 64) throw new InvalidDataException("section header size " + sectionHeaderSize + ", expected 64");
        if (namesSectionIndex >= sectionCount) throw new InvalidDataException("e_shstrndx " + namesSectionIndex + " out of range");
        if (sectionHeaderOffset + (ulong)sectionCount * 64 > (ulong)image.Length)
            throw new InvalidDataException("section header table extends past the end of the file");

        var sections = new Section[sectionCount];
        for (var i = 0; i < sectionCount; i++) sections[i] = Section.Read(image, checked((int)sectionHeaderOffset + i * 64));
        var names = sections[namesSectionIndex];

        Section? versionNeeds = null;
        foreach (var section in sections)
        {
            if (ReadString(image, names, section.NameOffset, ".shstrtab") == ".gnu.version_r")
            {
                versionNeeds = section;
                break;
            }
        }
        if (versionNeeds is null) throw new InvalidDataException("no .gnu.version_r section");
        var needs = versionNeeds.Value;
        if (needs.Type != SectionTypeVersionNeeds) throw new InvalidDataException(".gnu.version_r has type 0x" + needs.Type.ToString("x") + ", expected SHT_GNU_verneed");
        if (needs.Link >= sectionCount) throw new InvalidDataException(".gnu.version_r links to section " + needs.Link + ", out of range");
        var strings = sections[needs.Link];
        if (strings.Type != SectionTypeStringTable) throw new InvalidDataException(".gnu.version_r does not link to a string table");
        if (needs.Offset + needs.Size > (ulong)image.Length) throw new InvalidDataException(".gnu.version_r extends past the end of the file");

        // sh_info holds the number of Verneed entries; bound every walk by it and by the section size.
        var remainingNeeds = needs.Info;
        var needOffset = 0UL;
        var found = new List<int>();
        while (remainingNeeds-- > 0)
        {
            if (needOffset + 16 > needs.Size) throw new InvalidDataException("Verneed entry outside .gnu.version_r");
            var need = checked((int)(needs.Offset + needOffset));
            var needVersion = U16(image, need, "vn_version");
            if (needVersion != 1) throw new InvalidDataException("Verneed version " + needVersion + ", expected 1");
            var auxCount = U16(image, need + 2, "vn_cnt");
            var auxOffset = needOffset + U32(image, need + 8, "vn_aux");
            for (var a = 0; a < auxCount; a++)
            {
                if (auxOffset + 16 > needs.Size) throw new InvalidDataException("Vernaux entry outside .gnu.version_r");
                var aux = checked((int)(needs.Offset + auxOffset));
                var name = ReadString(image, strings, U32(image, aux + 8, "vna_name"), "dynamic string table");
                if (name == version) found.Add(aux);
                var next = U32(image, aux + 12, "vna_next");
                if (next == 0 && a != auxCount - 1) throw new InvalidDataException("Vernaux chain ends before vn_cnt entries");
                auxOffset += next;
            }
            var nextNeed = U32(image, need + 12, "vn_next");
            if (nextNeed == 0)
            {
                if (remainingNeeds != 0) throw new InvalidDataException("Verneed chain ends before sh_info entries");
                break;
            }
            needOffset += nextNeed;
        }

        if (found.Count == 0) return Outcome.NotNeeded;
        var changed = false;
        foreach (var aux in found)
        {
            var flags = U16(image, aux + 4, "vna_flags");
            if ((flags & VerFlagWeak) != 0) continue;
            flags |= VerFlagWeak;
            image[aux + 4] = (byte)flags;
            image[aux + 5] = (byte)(flags >> 8);
            changed = true;
        }
        return changed ? Outcome.Patched : Outcome.AlreadyWeak;
    }

    private readonly struct Section
    {
        public readonly uint NameOffset;
        public readonly uint Type;
        public readonly ulong Offset;
        public readonly ulong Size;
        public readonly uint Link;
        public readonly uint Info;

        private Section(byte[] image, int at)
        {
            NameOffset = U32(image, at, "sh_name");
            Type = U32(image, at + 4, "sh_type");
            Offset = U64(image, at + 0x18, "sh_offset");
            Size = U64(image, at + 0x20, "sh_size");
            Link = U32(image, at + 0x28, "sh_link");
            Info = U32(image, at + 0x2C, "sh_info");
        }

        public static Section Read(byte[] image, int at) => new Section(image, at);
    }

    private static string ReadString(byte[] image, Section table, uint offset, string what)
    {
        if (offset >= table.Size) throw new InvalidDataException("name offset " + offset + " outside the " + what);
        var start = checked((long)table.Offset + offset);
        var end = start;
        var limit = checked((long)(table.Offset + table.Size));
        if (limit > image.Length) throw new InvalidDataException("the " + what + " extends past the end of the file");
        while (end < limit && image[end] != 0) end++;
        if (end == limit) throw new InvalidDataException("unterminated name in the " + what);
        return Encoding.ASCII.GetString(image, (int)start, (int)(end - start));
    }

    private static ushort U16(byte[] image, long at, string field)
    {
        Check(image, at, 2, field);
        return (ushort)(image[at] | image[at + 1] << 8);
    }

    private static uint U32(byte[] image, long at, string field)
    {
        Check(image, at, 4, field);
        return (uint)(image[at] | image[at + 1] << 8 | image[at + 2] << 16 | image[at + 3] << 24);
    }

    private static ulong U64(byte[] image, long at, string field) => U32(image, at, field) | (ulong)U32(image, at + 4, field) << 32;

    private static void Check(byte[] image, long at, int length, string field)
    {
        if (at < 0 || at + length > image.Length) throw new InvalidDataException(field + " at offset " + at + " is past the end of the file");
    }
}
