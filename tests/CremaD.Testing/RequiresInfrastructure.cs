using System.ComponentModel;
using System.Reflection;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace CremaD.Testing;

/// <summary>
/// A fact that needs some infrastructure (RabbitMQ, Azurite, Chromium, fonts), plus whatever its class declares with
/// <see cref="RequiresInfrastructureAttribute"/>. Outside CI, when a piece is missing, the test is skipped with one line
/// naming it and the command that installs it; under CI it runs (and fails), so CI cannot pass by skipping.
/// xunit 2 has no dynamic skip, hence an attribute: <c>[RequiresInfrastructureFact(Infrastructure.RabbitMq | Infrastructure.Azurite)]</c>.
/// The constructor sets <see cref="FactAttribute.Skip"/> for the attribute's own needs; the discoverer makes the skipped
/// test case, which also covers the class's needs and puts the reason in the test's name.
/// </summary>
[XunitTestCaseDiscoverer("CremaD.Testing.RequiresInfrastructureFactDiscoverer", "CremaD.Testing")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class RequiresInfrastructureFactAttribute : FactAttribute
{
    /// <summary>Only what the test class declares with <see cref="RequiresInfrastructureAttribute"/> (for tests inherited from a base class).</summary>
    public RequiresInfrastructureFactAttribute() : this(Infrastructure.None)
    {
    }

    public RequiresInfrastructureFactAttribute(Infrastructure needs)
    {
        Needs = needs;
        Skip = InfrastructureCheck.SkipReason(needs)!;
    }

    public Infrastructure Needs { get; }
}

/// <summary>The theory counterpart of <see cref="RequiresInfrastructureFactAttribute"/>: a missing piece skips all its data rows at once.</summary>
[XunitTestCaseDiscoverer("CremaD.Testing.RequiresInfrastructureTheoryDiscoverer", "CremaD.Testing")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class RequiresInfrastructureTheoryAttribute : TheoryAttribute
{
    public RequiresInfrastructureTheoryAttribute() : this(Infrastructure.None)
    {
    }

    public RequiresInfrastructureTheoryAttribute(Infrastructure needs)
    {
        Needs = needs;
        Skip = InfrastructureCheck.SkipReason(needs)!;
    }

    public Infrastructure Needs { get; }
}

/// <summary>
/// What every <see cref="RequiresInfrastructureFactAttribute"/> / <see cref="RequiresInfrastructureTheoryAttribute"/>
/// test of a class needs, including the ones it inherits. For a shared base class of tests (a store contract run
/// against a local folder and against Azurite): the base's methods cannot know which class runs them. Plain
/// [Fact]/[Theory] methods do not look at it.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = true)]
public sealed class RequiresInfrastructureAttribute(Infrastructure needs) : Attribute
{
    public Infrastructure Needs { get; } = needs;
}

/// <summary>
/// Skips the test when a piece its attribute or its class (<see cref="RequiresInfrastructureAttribute"/>) needs is missing,
/// outside CI, naming what is missing in the test's name; otherwise discovers it as a plain fact.
/// </summary>
public sealed class RequiresInfrastructureFactDiscoverer(IMessageSink diagnosticMessageSink) : FactDiscoverer(diagnosticMessageSink)
{
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute) =>
        InfrastructureDiscovery.SkipIfMissing(DiagnosticMessageSink, discoveryOptions, testMethod, factAttribute)
        ?? base.Discover(discoveryOptions, testMethod, factAttribute);
}

/// <summary>The theory counterpart of <see cref="RequiresInfrastructureFactDiscoverer"/>.</summary>
public sealed class RequiresInfrastructureTheoryDiscoverer(IMessageSink diagnosticMessageSink) : TheoryDiscoverer(diagnosticMessageSink)
{
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo theoryAttribute) =>
        InfrastructureDiscovery.SkipIfMissing(DiagnosticMessageSink, discoveryOptions, testMethod, theoryAttribute)
        ?? base.Discover(discoveryOptions, testMethod, theoryAttribute);
}

internal static class InfrastructureDiscovery
{
    /// <summary>One skipped test case when the method or its class needs a missing piece (outside CI); otherwise null.</summary>
    public static IEnumerable<IXunitTestCase>? SkipIfMissing(IMessageSink diagnosticMessageSink, ITestFrameworkDiscoveryOptions discoveryOptions,
        ITestMethod testMethod, IAttributeInfo attribute)
    {
        var needs = attribute.GetNamedArgument<Infrastructure>(nameof(RequiresInfrastructureFactAttribute.Needs));
        foreach (var declared in testMethod.TestClass.Class.ToRuntimeType().GetCustomAttributes<RequiresInfrastructureAttribute>(inherit: true))
        {
            needs |= declared.Needs;
        }
        return InfrastructureCheck.SkipReason(needs) is { } reason
            ? [new InfrastructureSkippedTestCase(diagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(),
                discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod, reason)]
            : null;
    }
}

/// <summary>
/// A test skipped for missing infrastructure, with the reason in its name: <c>dotnet test</c> at its default verbosity
/// prints only the names of skipped tests, and the reason is what tells a new user what to install. (The stock test case
/// would also read its skip reason from the attribute again, where a class-level need is not.)
/// </summary>
public sealed class InfrastructureSkippedTestCase : XunitSkippedDataRowTestCase
{
    [EditorBrowsable(EditorBrowsableState.Never)]
    [Obsolete("Called by the de-serializer; should only be called by deriving classes for de-serialization purposes")]
    public InfrastructureSkippedTestCase()
    {
    }

    public InfrastructureSkippedTestCase(IMessageSink diagnosticMessageSink, TestMethodDisplay defaultMethodDisplay,
        TestMethodDisplayOptions defaultMethodDisplayOptions, ITestMethod testMethod, string skipReason)
        : base(diagnosticMessageSink, defaultMethodDisplay, defaultMethodDisplayOptions, testMethod, skipReason)
    {
    }

    // xunit computes the display name before it sets SkipReason, so the reason comes from GetSkipReason (the stored one).
    protected override string GetDisplayName(IAttributeInfo factAttribute, string displayName) =>
        $"{base.GetDisplayName(factAttribute, displayName)} [{GetSkipReason(factAttribute)}]";
}
