var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults().AddCremaDFeatureService();
var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();
