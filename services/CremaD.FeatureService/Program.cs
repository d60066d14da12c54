var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddCremaDFeatureService();
var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();
